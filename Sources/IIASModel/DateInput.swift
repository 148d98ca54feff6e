import Foundation

/// A time as an operator types it on the command line or at a prompt: an RFC 3339
/// instant, a calendar day, or a span counted from now (`30m`, `12h`, `2d`, `1w`).
///
/// One parser for every option that takes a time (`--since`, `--response-deadline`,
/// `--valid-until`, the prompts), so an operator learns one set of forms and every
/// refusal names all of them. A day means its first instant in UTC: the node keeps
/// UTC, and a local-midnight reading would shift with whoever runs the command.
/// Whether a span counts back (`--since 2d`: two days ago) or ahead (`--response-deadline
/// 8h`: eight hours from now) is the option's meaning, so the caller says which.
public enum DateInput {
    /// Which way from now a span counts.
    public enum Direction: Sendable {
        case past, future
    }

    /// Why a text is not a time; `hint` lists the forms that are.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var hint: String
        public var description: String { message }
    }

    /// The forms accepted, for messages and `--help`.
    public static let acceptedForms = "an RFC 3339 time (2026-12-06T08:00:00Z), a day (2026-12-06, from 00:00 UTC), "
        + "or a span from now in minutes, hours, days or weeks (30m, 12h, 2d, 1w)"

    /// The longest span accepted: a century is far past any deadline or search, and the
    /// bound keeps `99999999999w` from overflowing into a date before the epoch.
    public static let maximumSpanSeconds: Int64 = 100 * 366 * 86_400

    private static let unitSeconds: [Character: Int64] = ["m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400]

    /// `text` as an instant. `now` anchors spans; `direction` says which way they count.
    public static func parse(_ text: String, now: Date = Date(), direction: Direction) throws(Problem) -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let shown = String(trimmed.prefix(40))
        func refuse(_ why: String) -> Problem { Problem(message: why, hint: "give " + acceptedForms) }
        guard !trimmed.isEmpty else { throw refuse("an empty time names nothing") }
        if let instant = Timestamp.parse(trimmed.uppercased()) { return instant }
        if let day = CalendarDate(rawValue: trimmed) {
            return Date(timeIntervalSince1970: TimeInterval(CalendarDate.daysSinceEpoch(year: day.year, month: day.month, day: day.day)) * 86_400)
        }
        if trimmed.first == "-" || trimmed.first == "+" {
            throw refuse("\(shown): give a span without a sign; "
                         + (direction == .past ? "it counts back from now" : "it counts ahead from now"))
        }
        if let unit = trimmed.last.map({ Character($0.lowercased()) }), let seconds = unitSeconds[unit] {
            let digits = trimmed.dropLast()
            guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
                throw refuse("\(shown) is not a time")
            }
            guard let count = Int64(digits), case let (span, overflow) = count.multipliedReportingOverflow(by: seconds),
                  !overflow, span <= maximumSpanSeconds else {
                throw refuse("\(shown) is more than a hundred years")
            }
            return now.addingTimeInterval(TimeInterval(direction == .past ? -span : span))
        }
        if trimmed.count >= 10, CalendarDate(rawValue: String(trimmed.prefix(10))) == nil,
           trimmed.prefix(10).allSatisfy({ $0.isNumber || $0 == "-" }) {
            throw refuse("\(shown) names no day of the calendar")
        }
        throw refuse("\(shown) is not a time")
    }
}
