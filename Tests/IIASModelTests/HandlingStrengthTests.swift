import IIASModel
import XCTest

/// The order of handling markings that replies and updates inherit by.
final class HandlingStrengthTests: XCTestCase {
    func testTLPLabelsAreOrderedFromRedToClear() {
        XCTAssertEqual([TLP.clear, .green, .amber, .amberStrict, .red].map(\.strength), [0, 1, 2, 3, 4])
    }

    func testInheritingTakesTheStrongerLabelTheUnionOfCodesAndKeepsRestrictionsAndClassification() {
        let original = Handling(tlp: .red, codes: [.h2, .h3], restrictions: "Not before 5 March.", classification: "SECRET")
        let draft = Handling(tlp: .amber, codes: [.h0])
        let inherited = draft.inheriting(original)
        XCTAssertEqual(inherited, Handling(tlp: .red, codes: [.h0, .h2, .h3], restrictions: "Not before 5 March.", classification: "SECRET"))
        XCTAssertFalse(inherited.isWeaker(than: original))
        XCTAssertTrue(draft.isWeaker(than: original))
        // A stronger draft stays as strong, with the original's restrictions added after none of its own.
        let stronger = Handling(tlp: .red, codes: [.h1, .h2, .h3], restrictions: "Court use only with permission.")
        XCTAssertEqual(stronger.inheriting(original).restrictions, "Not before 5 March.\nCourt use only with permission.")
        XCTAssertEqual(Handling(tlp: .red).inheriting(Handling(tlp: .green)).tlp, .red)
    }

    func testEachWeakeningIsDetected() {
        let original = Handling(tlp: .amberStrict, codes: [.h2, .h3], restrictions: "No contact.", classification: "DSP")
        XCTAssertFalse(original.isWeaker(than: original))
        XCTAssertTrue(Handling(tlp: .amber, codes: [.h2, .h3], restrictions: "No contact.", classification: "DSP").isWeaker(than: original), "lower TLP")
        XCTAssertTrue(Handling(tlp: .red, codes: [.h3], restrictions: "No contact.", classification: "DSP").isWeaker(than: original), "H2 dropped")
        XCTAssertTrue(Handling(tlp: .red, codes: [.h2, .h3], restrictions: "Other.", classification: "DSP").isWeaker(than: original), "restrictions dropped")
        XCTAssertTrue(Handling(tlp: .red, codes: [.h2, .h3], restrictions: "No contact.").isWeaker(than: original), "classification dropped")
    }

    func testMarkingsReadWithTheirMeaning() {
        XCTAssertEqual(Handling(tlp: .red, codes: [.h2], classification: "SECRET").marking, "TLP:RED H2 [SECRET]")
        XCTAssertEqual(Evaluation(sourceReliability: .b, informationAccuracy: .knownToSource).meaning,
                       "B2: source mostly reliable; known personally to the source, not to the official passing it on")
    }
}
