import Foundation
import IIASAPI

extension Render {
    /// "size 40 met the quorum of 2 12 s ago; the log is 3 entries (4 s) ahead": what
    /// receipt proofs can cover now and what waits for the witnesses.
    static func witnessed(_ status: WitnessedStatus, now: Date = Date()) -> String {
        guard status.enabled else { return "off (witness.enabled is false): no cosignatures, no receipt proofs" }
        let head = status.treeSize.map { size in
            "size \(size) met the quorum of \(status.quorum)" + (status.reachedAt.map { " \(seconds(now.timeIntervalSince($0))) ago" } ?? "")
        } ?? "no checkpoint has met the quorum of \(status.quorum) yet"
        let lag = status.lagEntries == 0 ? "the log is fully witnessed"
            : "the log is \(Plural.count(status.lagEntries, "entry", plural: "entries")) (\(seconds(status.lagSeconds))) ahead"
        return head + "; " + lag
    }

    /// An alarm's line: red while it stands, plain with who set it aside and why once acknowledged.
    static func alarm(_ alarm: HistoryAlarm) -> String {
        let evidence = alarm.evidence.map { " (\($0))" } ?? ""
        guard let acknowledged = alarm.acknowledged else { return Terminal.red(Terminal.safe(alarm.detail)) + evidence }
        return Terminal.safe(alarm.detail) + evidence + "; acknowledged by \(Terminal.safe(acknowledged.user)) \(time(acknowledged.at)): \(Terminal.safe(acknowledged.note))"
    }

    private static func seconds(_ value: Double) -> String { value < 120 ? "\(Int(value.rounded())) s" : "\(Int((value / 60).rounded())) min" }
}
