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

    private static func seconds(_ value: Double) -> String { value < 120 ? "\(Int(value.rounded())) s" : "\(Int((value / 60).rounded())) min" }
}
