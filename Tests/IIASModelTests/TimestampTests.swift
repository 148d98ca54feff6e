import Foundation
import XCTest
@testable import IIASModel

final class TimestampTests: XCTestCase {
    func testOffsetsAreConvertedToUTC() {
        XCTAssertEqual(Timestamp.parse("2025-03-01T13:30:00+04:00"), Timestamp.parse("2025-03-01T09:30:00Z"))
        XCTAssertEqual(Timestamp.parse("2025-03-01T00:30:00-09:00").map(Timestamp.format), "2025-03-01T09:30:00Z")
    }

    func testFractionsBeyondMillisecondsAreTruncated() {
        XCTAssertEqual(Timestamp.parse("2025-03-01T09:30:00.9999999Z").map(Timestamp.format), "2025-03-01T09:30:00.999Z")
        XCTAssertEqual(Timestamp.parse("2025-03-01T09:30:00.5Z").map(Timestamp.format), "2025-03-01T09:30:00.500Z")
    }

    func testDatesBefore1970RoundTrip() {
        for text in ["1969-12-31T23:59:59.999Z", "0001-01-01T00:00:00Z", "1900-02-28T12:00:00.001Z"] {
            XCTAssertEqual(Timestamp.parse(text).map(Timestamp.format), text)
        }
    }

    func testMalformedTimestampsAreRefused() {
        for text in ["2025-03-01 09:30:00Z", "2025-03-01T09:30Z", "2025-03-01T24:00:00Z", "2025-03-01T09:30:60Z",
                     "2025-13-01T09:30:00Z", "2025-03-01T09:30:00.Z", "2025-03-01T09:30:00.1234567890Z",
                     "2025-03-01T09:30:00+0400", "2025-03-01T09:30:00Z ", "2023-02-29T00:00:00Z", ""] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
    }

    func testEveryWrittenTimeParsesBackToItselfAcrossTheFourDigitYears() {
        // 0001 to 9999, every field width and a spread of milliseconds (zero ones included).
        let first = Timestamp.parse("0001-01-01T00:00:00Z")!.millisecondsSince1970
        let last = Timestamp.parse("9999-12-31T23:59:59.999Z")!.millisecondsSince1970
        for ms in stride(from: first, through: last, by: 3_155_692_597_319) + [first, last, 0, -1, 1, 86_399_999] {
            let date = Date(millisecondsSince1970: ms)
            let short = Timestamp.format(date), long = Timestamp.formatWithMilliseconds(date)
            XCTAssertEqual(long.utf8.count, 24, long)
            XCTAssertEqual(Timestamp.parse(short), date, short)
            XCTAssertEqual(Timestamp.parse(long), date, long)
            XCTAssertEqual(short.utf8.count, ms % 1000 == 0 ? 20 : 24, short)
        }
        XCTAssertEqual(Timestamp.formatWithMilliseconds(Date(millisecondsSince1970: 0)), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp.format(Date(millisecondsSince1970: 1_764_612_309_120)), "2025-12-01T18:05:09.120Z")
    }

    func testMillisecondConversionIsExactAcrossARange() {
        for ms in stride(from: Int64(-5_000_000_000_000), to: 5_000_000_000_000, by: 999_999_937) {
            XCTAssertEqual(Date(millisecondsSince1970: ms).millisecondsSince1970, ms)
        }
    }

    func testCalendarDatesMustExist() {
        XCTAssertNotNil(CalendarDate(rawValue: "2000-02-29"))
        XCTAssertNil(CalendarDate(rawValue: "1900-02-29"))
        XCTAssertNil(CalendarDate(rawValue: "0000-01-01"))
        XCTAssertNil(CalendarDate(rawValue: "2000-1-01"))
    }
}
