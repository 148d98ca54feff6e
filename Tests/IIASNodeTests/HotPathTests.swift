import Foundation
import IIASModel
@testable import IIASAPI
@testable import IIASNode
import XCTest

/// Small pieces the submit and receive paths lean on.
final class HotPathTests: XCTestCase {
    func testOutboxSummaryJSONReadsBackAsWritten() throws {
        for subject in ["Plain", "Quotes \" and \\ backslashes", "Контрабанда / 走私 \u{1F6A8}", "Tab\tand\nnewline", String(repeating: "x", count: 200)] {
            let summary = OutboxSummary(category: .terrorismFinancing, priority: .flash, subject: subject)
            XCTAssertEqual(try JSONDecoder().decode(OutboxSummary.self, from: Data(summary.json)), summary)
        }
    }

    func testConcurrentMapKeepsOrderForEverySize() async {
        for count in [0, 1, 2, 3, 7, 64, 257] {
            let items = Array(0..<count)
            let mapped = await concurrentMap(items) { $0 * 3 + 1 }
            XCTAssertEqual(mapped, items.map { $0 * 3 + 1 }, "\(count) items")
        }
    }
}
