import Foundation
import IIASAPI
import IIASModel

/// How the operator commands print notifications.
enum Render {
    static func shortID(_ id: UUID) -> String { String(id.uuidString.lowercased().prefix(8)) }

    static func priority(_ priority: Priority) -> String {
        switch priority {
        case .flash: Terminal.bold(Terminal.red("FLASH"))
        case .urgent: Terminal.yellow("urgent")
        case .routine: "routine"
        }
    }

    /// TLP:RED stands out (bold red), amber in yellow, green in green.
    static func tlp(_ tlp: TLP) -> String {
        switch tlp {
        case .red: Terminal.bold(Terminal.red(tlp.rawValue))
        case .amberStrict, .amber: Terminal.yellow(tlp.rawValue)
        case .green: Terminal.green(tlp.rawValue)
        case .clear: tlp.rawValue
        }
    }

    /// A cancellation or update stands out from plain notifications.
    static func kind(_ kind: Kind) -> String {
        switch kind {
        case .cancellation, .update: Terminal.bold(kind.rawValue)
        case .request: Terminal.yellow(kind.rawValue)
        case .notification, .reply: kind.rawValue
        }
    }

    /// "2d 5h left", "3h 10m left", "overdue by 1d 2h": how an operator judges a deadline.
    static func timeLeft(until deadline: Date, now: Date) -> String {
        let seconds = Int(deadline.timeIntervalSince(now))
        let magnitude = abs(seconds)
        let days = magnitude / 86_400, hours = magnitude % 86_400 / 3_600, minutes = magnitude % 3_600 / 60
        let span = days > 0 ? "\(days)d \(hours)h" : hours > 0 ? "\(hours)h \(minutes)m" : "\(minutes)m"
        return seconds >= 0 ? "\(span) left" : Terminal.red("overdue by \(span)")
    }

    static func time(_ date: Date) -> String { time(date, seconds: false) }

    /// `seconds`: where events often come within one minute (a thread's replies, updates, cancellation).
    static func time(_ date: Date, seconds: Bool) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = seconds ? "yyyy-MM-dd HH:mm:ss'Z'" : "yyyy-MM-dd HH:mm'Z'"
        return formatter.string(from: date)
    }

    /// Said under a listing while the node is still reading its log for thread states.
    static let threadsPendingLine = "thread states (cancelled, updated, replied) may be missing: the node is still reading its log for them"

    /// The thread's latest state (cancelled, updated, replied) first, then this copy's.
    static func state(_ item: InboxItem) -> String {
        guard let mark = item.thread else { return copyState(item) }
        let thread = mark.state == .cancelled ? Terminal.red(mark.state.rawValue) : Terminal.yellow(mark.state.rawValue)
        return thread + ", " + copyState(item)
    }

    private static func copyState(_ item: InboxItem) -> String {
        if let by = item.acknowledgedBy { return Terminal.green("acknowledged by \(Terminal.safe(by))") }
        return item.read ? "read" : Terminal.bold("unread")
    }

    static func delivery(_ delivery: RecipientDelivery) -> String {
        switch delivery.state {
        case .delivered: Terminal.green("delivered")
        case .acknowledged: Terminal.green(Terminal.bold("acknowledged"))
        case .refused: Terminal.red("refused (\(delivery.reason ?? "?"))")
        case .sent: Terminal.yellow("sent")
        case .queued: Terminal.yellow("queued") + (delivery.nextAttempt.map { " (next try \(time($0)))" } ?? "")
        }
    }
}
