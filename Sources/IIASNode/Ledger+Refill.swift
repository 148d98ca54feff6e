import Foundation
import IIASModel

extension Ledger {
    /// Our envelopes whose receipt from `peer` names a log index of `peer`'s at or after
    /// `size`, with their log indexes here: what a peer restored from an older copy lost and
    /// gets again (it logs each once: it no longer knows them).
    func receipted(by peer: CenterID, atOrAfter size: UInt64) -> [(id: UUID, index: UInt64)] {
        guard let number = centers.number(of: peer) else { return [] }
        var found: [(id: UUID, index: UInt64)] = []
        for (position, record) in outgoingRecords.enumerated() {
            for delivery in deliveries[deliveryRange(record)] where delivery.center == number {
                guard delivery.recipientLogIndex != Self.none, delivery.recipientLogIndex >= size else { continue }
                found.append((outgoingIDs[position], record.index))
            }
        }
        return found
    }
}
