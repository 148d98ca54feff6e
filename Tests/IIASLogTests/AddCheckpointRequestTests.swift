import Foundation
import IIASCrypto
import IIASLog
import XCTest

/// The add-checkpoint request body of C2SP tlog-witness: the specification's example
/// reads and writes back byte for byte; each malformed shape is refused with 400.
final class AddCheckpointRequestTests: XCTestCase {
    static let specExample = """
        old 20852014
        PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
        jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
        5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
        /6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

        example.com/behind-the-sofa
        20852163
        CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

        — example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
        — example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=

        """

    func testTheSpecificationsExampleReadsAndWritesBack() throws {
        let request = try AddCheckpointRequest(parsing: Self.specExample)
        XCTAssertEqual(request.oldSize, 20_852_014)
        XCTAssertEqual(request.proof.count, 4)
        XCTAssertEqual(request.checkpoint.origin, "example.com/behind-the-sofa")
        XCTAssertEqual(request.checkpoint.treeSize, 20_852_163)
        XCTAssertEqual(request.note.signatures.count, 2)
        XCTAssertEqual(request.text, Self.specExample)
    }

    func testEveryMalformedShapeIsRefusedWith400() throws {
        let note = try SignedNote(parsing: String(Self.specExample.split(separator: "\n\n", maxSplits: 1)[1]))
        let hash = Data(count: 32).base64EncodedString()
        let cases: [(String, String)] = [
            ("old 01\n\n" + note.text, "leading zeros"),
            ("old -1\n\n" + note.text, "old SIZE"),
            ("olds 1\n\n" + note.text, "old SIZE"),
            ("old 1\n" + hash + "\n", "no empty line"),
            ("old 1\n" + hash + "\n" + note.text, "32-byte hash"), // the origin line read as a proof line
            ("old 1\nAAAA\n\n" + note.text, "32-byte hash"),
            ("old 1\n\nnot a note\n", "malformed"),
            ("old 1\n\n" + note.body + "\n", "no signature lines"),
        ]
        for (text, words) in cases {
            XCTAssertThrowsError(try AddCheckpointRequest(parsing: text)) { error in
                XCTAssertEqual((error as? WitnessRefusal)?.statusCode, 400, "\(error)")
                XCTAssertTrue("\(error)".contains(words), "\(words): \(error)")
            }
        }
        XCTAssertEqual(try AddCheckpointRequest(parsing: "old 0\n\n" + note.text).oldSize, 0)
    }

    func testAtMost63ProofLinesAndANoteOfAtMost64KiB() throws {
        let note = try SignedNote(parsing: String(Self.specExample.split(separator: "\n\n", maxSplits: 1)[1]))
        let line = Data(count: 32).base64EncodedString() + "\n"
        XCTAssertEqual(try AddCheckpointRequest(parsing: "old 9\n" + String(repeating: line, count: 63) + "\n" + note.text).proof.count, 63)
        XCTAssertThrowsError(try AddCheckpointRequest(parsing: "old 9\n" + String(repeating: line, count: 64) + "\n" + note.text)) {
            XCTAssertEqual($0 as? WitnessRefusal, .tooManyProofLines(64))
        }
        XCTAssertThrowsError(try AddCheckpointRequest(oldSize: 9, proof: Array(repeating: [UInt8](repeating: 0, count: 32), count: 64), note: note)) {
            XCTAssertEqual($0 as? WitnessRefusal, .tooManyProofLines(64))
        }
        let big = note.body + "\n" + String(repeating: "\u{2014} x AAAAAAAA\n", count: 6000)
        XCTAssertThrowsError(try AddCheckpointRequest(parsing: "old 9\n\n" + big)) {
            XCTAssertEqual($0 as? WitnessRefusal, .oversizeNote(big.utf8.count))
            XCTAssertEqual(($0 as? WitnessRefusal)?.statusCode, 400)
        }
    }
}
