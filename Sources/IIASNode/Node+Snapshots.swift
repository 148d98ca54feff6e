import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

// The ledger snapshot: a cache of the fold, bound to the log root it covers.
extension Node {
    // MARK: - Ledger snapshots

    /// A snapshot is written when this many entries were added since the last one (and at stop).
    static let snapshotInterval: UInt64 = 50_000
    static let snapshotFileName = "ledger.snapshot"

    static func snapshotPath(_ configuration: NodeConfiguration) -> String {
        (configuration.dataDirectory as NSString).appendingPathComponent(snapshotFileName)
    }

    /// The ledger from the snapshot file when it matches the log (same root at its size),
    /// else an empty one (the whole log is folded). Why a snapshot was not used is logged.
    static func loadSnapshot(configuration: NodeConfiguration, log: LogStore, logger: Logger) -> Ledger {
        let path = snapshotPath(configuration)
        let empty = Ledger(center: configuration.center)
        do {
            guard let bytes = try DurableFile.read(path) else { return empty }
            var ledger = try Ledger(snapshot: bytes, center: configuration.center)
            guard ledger.folded <= log.count, let root = try? log.merkleTree().rootHash(treeSize: ledger.folded),
                  constantTimeEqual(root, ledger.snapshotRoot ?? []) else {
                throw Ledger.SnapshotError.otherLog("its root at \(ledger.folded) entries is not the log's")
            }
            if ledger.snapshotTimesNeedLog {
                // An older format: a waiting delivery's time may be when it was last written, not logged.
                try ledger.restoreLoggedTimes { try log.entry(at: $0).timeMilliseconds }
            }
            return ledger
        } catch {
            logger.notice("folding the whole log instead of the ledger snapshot", metadata: ["file": "\(path)", "reason": "\(error)"])
            return empty
        }
    }

    /// Writes the ledger as it is now (a copy; written off the actor), bound to the log's
    /// root at the entries it covers. A failure is logged: the snapshot only saves time.
    func saveSnapshot() async {
        guard ledger.isContiguous, ledger.folded > snapshotSize else { return }
        let copy = ledger, path = Self.snapshotPath(configuration), log = self.log
        let written: Result<Void, any Error> = await Task.detached(priority: .utility) {
            Result {
                let root = try log.merkleTree().rootHash(treeSize: copy.folded)
                try DurableFile.write(copy.snapshot(root: root), to: path)
            }
        }.value
        switch written {
        case .success:
            snapshotSize = copy.folded
            await saveDeskIndex()
        case .failure(let error): logger.warning("cannot write the ledger snapshot", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }
}
