import Foundation
import IIASAPI
import IIASCrypto
import IIASModel

/// What the operator's desk needs of the content of every notification sent and received
/// — which ones name which (threads) and the requests with their deadlines and answers —
/// gathered once per notification, in log order.
///
/// The content is encrypted in the log, so this cannot be part of the ledger's fold, and
/// decrypting a million notifications to rebuild it costs minutes. So it is fed from what
/// the node decrypts anyway when a notification arrives (its listing fields, checked off
/// the actor) and from our own outbox summaries; it is written beside the ledger snapshot
/// (sealed to the node itself, `seal(root:key:)`); and what neither covers — entries after
/// the saved copy, or a whole log on a first start — is read by a background reader off
/// the actor (`Node+Desk.swift`). Until it has caught up, views that would be wrong with a
/// part missing (a thread, open requests) say so instead of answering.
struct DeskIndex: Sendable, Codable {
    /// Positions of the ledger's received and sent lists already taken in (acknowledgements included).
    var incomingSeen = 0
    var outgoingSeen = 0
    var threads = ThreadIndex()
    var requests = RequestIndex()

    /// Takes in the next received entry: `summary` is its listing fields, nil for an
    /// acknowledgement or a notification that does not open (it names nothing we can know).
    mutating func add(incoming: Ledger.Incoming, _ summary: Node.InboxSummary?) {
        incomingSeen += 1
        guard let summary, !incoming.isAcknowledgement else { return }
        threads.add(.init(sender: incoming.sender, id: incoming.id), kind: summary.kind, created: summary.created,
                    references: summary.references, inReplyTo: summary.inReplyTo)
        requests.add(incoming: incoming, summary)
    }

    /// Takes in the next sent entry; our summaries written before kinds and links were
    /// recorded name nothing.
    mutating func add(outgoing: Ledger.Outgoing, _ summary: OutboxSummary?, center: CenterID) {
        outgoingSeen += 1
        guard let summary, !outgoing.isAcknowledgement, let kind = summary.kind else { return }
        threads.add(.init(sender: center, id: outgoing.id), kind: kind, created: outgoing.created,
                    references: summary.references ?? [], inReplyTo: summary.inReplyTo)
        requests.add(outgoing: outgoing, summary, from: center)
    }

    /// Whether every position of `ledger` is taken in.
    func covers(_ ledger: Ledger) -> Bool {
        incomingSeen == ledger.incomingIDs.count && outgoingSeen == ledger.outgoingIDs.count
    }

    // MARK: - The saved copy

    static let fileName = "desk.index"
    /// Bounded before reading: the file holds follow-ups and requests, not notifications.
    static let maxFileBytes = 256 << 20

    /// What the sealed copy is bound to: the log's root over the entries its positions
    /// came from, so that a copy of another log, or of a log since rewritten, never opens.
    static func associatedData(folded: UInt64, root: [UInt8]) -> [UInt8] {
        Array("IIAS-desk-index\0".utf8) + withUnsafeBytes(of: folded.littleEndian) { Array($0) } + root
    }

    /// The index as JSON, sealed to this node (`SelfSealingKey`, purpose `deskIndex`):
    /// subjects and links are content, never written in the clear.
    func sealed(folded: UInt64, root: [UInt8], key: SelfSealingKey) throws -> [UInt8] {
        let json = try JSONEncoder().encode(Saved(folded: folded, index: self))
        return Array(folded.littleEndianBytes) + key.seal(Array(json), associatedData: Self.associatedData(folded: folded, root: root))
    }

    /// The entries a sealed copy was taken over (read before it is opened, to find the root).
    static func folded(ofSealed bytes: [UInt8]) -> UInt64? {
        guard bytes.count >= 8 else { return nil }
        return bytes[..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// Opens a sealed copy bound to `root` at `folded` entries; nil when it does not open
    /// (another log, another key, altered) or does not parse.
    static func opened(_ bytes: [UInt8], folded: UInt64, root: [UInt8], key: SelfSealingKey) -> DeskIndex? {
        guard bytes.count >= 8, let json = key.open(Array(bytes[8...]), associatedData: associatedData(folded: folded, root: root)),
              let saved = try? JSONDecoder().decode(Saved.self, from: Data(json)), saved.folded == folded else { return nil }
        return saved.index
    }

    private struct Saved: Codable {
        var folded: UInt64
        var index: DeskIndex
    }
}

private extension UInt64 {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
