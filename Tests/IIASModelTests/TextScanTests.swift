import XCTest
@testable import IIASModel

/// The one-pass count of a text field's scalars and control characters agrees with
/// Swift's own Unicode scalar view, which the check used before.
final class TextScanTests: XCTestCase {
    private func expected(_ text: String) -> (Int, Bool) {
        (text.unicodeScalars.count, text.unicodeScalars.contains(where: \.isControl))
    }

    func testEdgesOfTheControlRangesAndMultiByteScalars() {
        let cases = ["", "plain ASCII", "a\u{0}b", "tab\there", "\u{1F}", "\u{20}", "\u{7E}", "\u{7F}", "\u{80}", "\u{85}", "\u{9F}",
                     "\u{A0}", "\u{100}", "\u{C2}", "é", "e\u{301}", "Ставка", "ქართული", "🇺🇦", "👩‍👩‍👧", "\u{FFFD}", "\u{FFFF}",
                     "\u{10FFFF}", "\u{2028}", "x\u{9F}y", "\u{C2}\u{A0}"]
        for text in cases {
            let (scalars, control) = DocumentReader.scalarsAndControl(text)
            let (wantScalars, wantControl) = expected(text)
            XCTAssertEqual(scalars, wantScalars, "scalars of \(text.unicodeScalars.map { String($0.value, radix: 16) })")
            XCTAssertEqual(control, wantControl, "control in \(text.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    func testRandomTextsAgreeWithTheScalarView() {
        var generator = SystemRandomNumberGenerator()
        // Weighted towards the ranges where UTF-8 changes length and where controls sit.
        let ranges: [ClosedRange<UInt32>] = [0...0x7F, 0x80...0xFF, 0x100...0x7FF, 0x800...0xD7FF, 0xE000...0xFFFF, 0x10000...0x10FFFF]
        for _ in 0..<2_000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...40, using: &generator) {
                let range = ranges.randomElement(using: &generator)!
                if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &generator)) { text.append(scalar) }
            }
            let string = String(text)
            let (scalars, control) = DocumentReader.scalarsAndControl(string)
            let (wantScalars, wantControl) = expected(string)
            XCTAssertEqual(scalars, wantScalars)
            XCTAssertEqual(control, wantControl, "\(string.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    /// Long printable runs (read eight bytes at a time) with a control character, a C1
    /// pair or a multi-byte scalar dropped in at every position of a word.
    func testPlainRunsWithOneOddScalarAnywhere() {
        let odd: [Unicode.Scalar] = ["\u{0}", "\u{1F}", "\u{7F}", "\u{80}", "\u{9F}", "\u{A0}", "é", "\u{100}", "€", "🇺", " ", "~"]
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 31, 64] {
            for position in 0...length {
                for scalar in odd {
                    var text = String(repeating: "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ", count: 2).prefix(length)
                        .unicodeScalars.map { $0 }
                    text.insert(scalar, at: position)
                    let string = String(String.UnicodeScalarView(text))
                    let (scalars, control) = DocumentReader.scalarsAndControl(string)
                    let (wantScalars, wantControl) = expected(string)
                    XCTAssertEqual(scalars, wantScalars, "\(length) \(position) \(scalar.value)")
                    XCTAssertEqual(control, wantControl, "\(length) \(position) \(scalar.value)")
                }
            }
        }
    }
}
