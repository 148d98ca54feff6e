import Foundation
import IIASAPI
import IIASModel

extension Ledger {
    // MARK: Wire progress (not logged)

    /// Our envelope `id` was written to `peer`'s connection.
    public mutating func markSent(_ id: UUID, to peer: CenterID, attempts count: Int) {
        guard let position = deliveryPosition(id, peer), Self.isPending(deliveries[position].state) else { return }
        deliveries[position].state = Self.code(.sent)
        deliveries[position].updatedMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
        attempts[UInt32(position), default: Attempts(count: 0)].count = count
    }

    /// The connection to `peer` went away before these (written, unanswered) were answered.
    public mutating func markQueued(_ ids: [UUID], for peer: CenterID) {
        for id in ids {
            guard let position = deliveryPosition(id, peer), Self.isPending(deliveries[position].state) else { continue }
            deliveries[position].state = Self.code(.queued)
        }
    }

    /// `peer`'s link tries again at `date` (nil: it is connected); every delivery queued
    /// for it shows that time, whatever the length of its queue.
    public mutating func nextAttempt(for peer: CenterID, at date: Date?) {
        guard let number = centers.number(of: peer) else { return }
        nextAttempts[number] = date
    }
}
