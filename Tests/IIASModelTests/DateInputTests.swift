import Foundation
import XCTest
@testable import IIASModel

/// The one parser for times operators type: every accepted form, the calendar's edges,
/// and refusals that name the accepted forms.
final class DateInputTests: XCTestCase {
    private let now = Timestamp.parse("2026-12-06T05:30:00Z")!

    private func parse(_ text: String, _ direction: DateInput.Direction = .past) throws -> String {
        Timestamp.format(try DateInput.parse(text, now: now, direction: direction))
    }

    private func refusal(_ text: String, _ direction: DateInput.Direction = .past) -> DateInput.Problem? {
        do { _ = try DateInput.parse(text, now: now, direction: direction); return nil } catch { return error }
    }

    func testRFC3339IsTakenAsWrittenInAnyCaseAndOffset() throws {
        XCTAssertEqual(try parse("2026-11-24T00:00:00Z"), "2026-11-24T00:00:00Z")
        XCTAssertEqual(try parse("2026-11-24t04:00:00+04:00"), "2026-11-24T00:00:00Z")
        XCTAssertEqual(try parse(" 2026-11-24T00:00:00.250z "), "2026-11-24T00:00:00.250Z")
    }

    func testADayIsItsFirstInstantInUTC() throws {
        XCTAssertEqual(try parse("2026-12-06"), "2026-12-06T00:00:00Z")
        XCTAssertEqual(try parse("2026-12-06", .future), "2026-12-06T00:00:00Z", "a day is a day whichever way spans count")
    }

    func testLeapDaysExistOnlyInLeapYears() throws {
        XCTAssertEqual(try parse("2028-02-29"), "2028-02-29T00:00:00Z")
        XCTAssertEqual(try parse("2000-02-29"), "2000-02-29T00:00:00Z")
        for text in ["2026-02-29", "1900-02-29", "2026-02-29T12:00:00Z"] {
            XCTAssertEqual(refusal(text)?.message.contains("names no day of the calendar"), true, text)
        }
    }

    func testMonthEnds() throws {
        XCTAssertEqual(try parse("2026-01-31"), "2026-01-31T00:00:00Z")
        XCTAssertEqual(try parse("2026-04-30"), "2026-04-30T00:00:00Z")
        XCTAssertEqual(try parse("2026-12-31T23:59:59Z"), "2026-12-31T23:59:59Z")
        for text in ["2026-04-31", "2026-06-31", "2026-13-01", "2026-00-10", "2026-12-32"] {
            XCTAssertNotNil(refusal(text), text)
        }
    }

    func testSpansCountBackOrAheadAsTheOptionSays() throws {
        XCTAssertEqual(try parse("30m"), "2026-12-06T05:00:00Z")
        XCTAssertEqual(try parse("12h"), "2026-12-05T17:30:00Z")
        XCTAssertEqual(try parse("2d"), "2026-12-04T05:30:00Z")
        XCTAssertEqual(try parse("2D"), "2026-12-04T05:30:00Z", "units in either case")
        XCTAssertEqual(try parse("1w"), "2026-11-29T05:30:00Z")
        XCTAssertEqual(try parse("8h", .future), "2026-12-06T13:30:00Z")
        XCTAssertEqual(try parse("0m"), "2026-12-06T05:30:00Z")
        XCTAssertEqual(try parse("30d"), "2026-11-06T05:30:00Z", "across a month end")
    }

    func testNegativeSpansAreRefusedSayingWhichWayTheyCount() {
        XCTAssertEqual(refusal("-2d")?.message, "-2d: give a span without a sign; it counts back from now")
        XCTAssertEqual(refusal("+8h", .future)?.message, "+8h: give a span without a sign; it counts ahead from now")
    }

    func testOverflowingSpansAreRefusedNotWrapped() {
        for text in ["99999999999999999999d", "9223372036854775807m", "36601d", "99999999999w"] {
            XCTAssertEqual(refusal(text)?.message, "\(text.prefix(40)) is more than a hundred years", text)
        }
        XCTAssertNoThrow(try parse("36600d"))
    }

    func testGarbageIsRefusedNamingEveryAcceptedForm() {
        for text in ["", "   ", "yesterday", "2d3h", "d", "2x", "2.5h", "12", "٣d", "2026-12-06 08:00", "2026/12/06",
                     "2026-12-06T08:00Z", "2026-12-6"] {
            guard let problem = refusal(text) else { XCTFail("\(text) was taken"); continue }
            XCTAssertEqual(problem.hint, "give " + DateInput.acceptedForms, text)
            for form in ["RFC 3339", "2026-12-06", "30m", "12h", "2d"] {
                XCTAssertTrue(problem.hint.contains(form), "\(text): \(problem.hint)")
            }
        }
        XCTAssertEqual(refusal(String(repeating: "x", count: 1000))?.message, String(repeating: "x", count: 40) + " is not a time",
                       "a long text is cut in the message")
    }
}
