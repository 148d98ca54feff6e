import Foundation

/// RFC 3339 timestamps, the one date-time spelling a notification uses.
///
/// Parsing accepts `Z` or a numeric offset and up to nine fraction digits, and keeps
/// milliseconds (truncating the rest) so that what is parsed is exactly what
/// `format` writes back. Written: UTC, `Z`, milliseconds only when non-zero.
/// Hand-written, not `ISO8601DateFormatter`: its behaviour with fractions varies by
/// platform, and it accepts less than RFC 3339 in some places and more in others.
package enum Timestamp {
    package static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20 else { return nil }
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var value = 0
            for i in range {
                guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        guard let year = digits(0..<4), b[4] == UInt8(ascii: "-"), let month = digits(5..<7), b[7] == UInt8(ascii: "-"),
              let day = digits(8..<10), b[10] == UInt8(ascii: "T"), let hour = digits(11..<13), b[13] == UInt8(ascii: ":"),
              let minute = digits(14..<16), b[16] == UInt8(ascii: ":"), let second = digits(17..<19)
        else { return nil }
        guard (1...12).contains(month), (1...CalendarDate.daysInMonth(year: year, month: month)).contains(day),
              hour < 24, minute < 60, second < 60
        else { return nil }
        var i = 19
        var millis = 0
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            let count = i - start
            guard (1...9).contains(count) else { return nil }
            for k in 0..<3 { millis = millis * 10 + (k < count ? Int(b[start + k] - 0x30) : 0) }
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
        if b[i] == UInt8(ascii: "Z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = digits(i + 1..<i + 3), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"),
                  let om = digits(i + 4..<i + 6), oh < 24, om < 60
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = CalendarDate.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(millisecondsSince1970: Int64(seconds) * 1000 + Int64(millis))
    }

    package static func format(_ date: Date) -> String {
        format(date, alwaysMilliseconds: false)
    }

    /// The fixed-width form envelope headers use (`2026-11-22T21:05:09.120Z`, three
    /// fraction digits even when zero), so a header's time has one spelling.
    package static func formatWithMilliseconds(_ date: Date) -> String {
        format(date, alwaysMilliseconds: true)
    }

    private static func format(_ date: Date, alwaysMilliseconds: Bool) -> String {
        let ms = date.millisecondsSince1970
        let (days, msOfDay) = ms.quotientAndRemainder(dividingBy: 86_400_000)
        let (d, m) = msOfDay < 0 ? (days - 1, msOfDay + 86_400_000) : (days, msOfDay)
        let (year, month, day) = CalendarDate.civil(daysSinceEpoch: Int(d))
        let seconds = Int(m / 1000), millis = Int(m % 1000)
        let withFraction = millis != 0 || alwaysMilliseconds
        guard (0...9999).contains(year) else {
            // Outside four-digit years (never in a valid document): the plain spelling.
            func pad(_ n: Int, _ width: Int) -> String {
                let s = String(n)
                return String(repeating: "0", count: max(0, width - s.count)) + s
            }
            var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2))"
            if withFraction { text += "." + pad(millis, 3) }
            return text + "Z"
        }
        // Written digit by digit into one buffer: every header, receipt and event carries
        // a time, and interpolating padded fields cost several allocations each.
        return String(unsafeUninitializedCapacity: 24) { out in
            var at = 0
            func put(_ byte: UInt8) { out[at] = byte; at += 1 }
            func digits(_ value: Int, _ width: Int) {
                var scale = 1
                for _ in 1..<width { scale *= 10 }
                while scale > 0 { put(UInt8(0x30 + value / scale % 10)); scale /= 10 }
            }
            digits(year, 4); put(0x2D); digits(month, 2); put(0x2D); digits(day, 2); put(0x54)
            digits(seconds / 3600, 2); put(0x3A); digits(seconds / 60 % 60, 2); put(0x3A); digits(seconds % 60, 2)
            if withFraction { put(0x2E); digits(millis, 3) }
            put(0x5A)
            return at
        }
    }
}

extension Date {
    /// Whole milliseconds since 1970, rounding down. Exact inverse of
    /// `init(millisecondsSince1970:)`, which round trips depend on.
    var millisecondsSince1970: Int64 {
        let t = timeIntervalSinceReferenceDate
        guard t.isFinite, abs(t) < 1e14 else { return 0 }
        var k = Int64((t * 1000).rounded(.down))
        while Double(k + 1) / 1000 <= t { k += 1 }
        while Double(k) / 1000 > t { k -= 1 }
        return k + Date.referenceOffsetMilliseconds
    }

    init(millisecondsSince1970 ms: Int64) {
        self.init(timeIntervalSinceReferenceDate: Double(ms - Date.referenceOffsetMilliseconds) / 1000)
    }

    /// This date with anything below a millisecond dropped: what a notification keeps.
    package var truncatedToMilliseconds: Date { Date(millisecondsSince1970: millisecondsSince1970) }

    private static let referenceOffsetMilliseconds: Int64 = 978_307_200_000
}
