import IIASCrypto
import IIASTransport

/// The bodies of the three attachment frames (see FrameProtocol.md, "Attachments"):
/// parsed here, in the node, because only the node knows what an attachment is. Every
/// attachment is named by its commitment, the 32-byte Merkle root over its ciphertext
/// chunks, which the signed notification carries.
enum AttachmentFrame: Equatable, Sendable {
    /// CHUNK: chunk `index` of the attachment `root`, its RFC 9162 inclusion proof, and
    /// its ciphertext (with the tag).
    case chunk(root: [UInt8], index: Int, proof: [[UInt8]], bytes: [UInt8])
    /// CHUNK_ACK: the recipient holds chunks 0..<held durably (written and fsynced).
    case ack(root: [UInt8], held: Int)
    /// ATTACHMENT_END: the recipient holds the whole attachment, or refuses it (for good).
    case end(root: [UInt8], complete: Bool, reason: String)

    /// Why a body does not read; the connection is closed with ERROR 1.
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static let rootBytes = 32
    /// A proof for a tree of at most 2^32 leaves has at most 32 hashes.
    static let maxProofHashes = 32

    /// Reads a frame body of `type`.
    static func parse(_ type: FrameType, _ body: [UInt8]) throws(Malformed) -> AttachmentFrame {
        guard body.count >= rootBytes else { throw Malformed(description: "attachment frame shorter than its 32-byte root") }
        let root = Array(body[0..<rootBytes])
        var at = rootBytes
        func integer() throws(Malformed) -> Int {
            guard body.count >= at + 4 else { throw Malformed(description: "attachment frame ends inside a 4-byte integer") }
            let value = body[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) }
            at += 4
            return value
        }
        switch type {
        case .chunk:
            let index = try integer()
            guard body.count > at else { throw Malformed(description: "CHUNK without its proof length") }
            let count = Int(body[at]); at += 1
            guard count <= maxProofHashes, body.count >= at + count * 32 else {
                throw Malformed(description: "CHUNK proof of \(count) hashes does not fit its body")
            }
            let proof = (0..<count).map { Array(body[(at + $0 * 32)..<(at + $0 * 32 + 32)]) }
            at += count * 32
            guard body.count > at + AttachmentSeal.tagByteCount - 1 else { throw Malformed(description: "CHUNK shorter than a tag") }
            return .chunk(root: root, index: index, proof: proof, bytes: Array(body[at...]))
        case .chunkAck:
            let held = try integer()
            guard at == body.count else { throw Malformed(description: "CHUNK_ACK with trailing bytes") }
            return .ack(root: root, held: held)
        case .attachmentEnd:
            guard body.count > at, body[at] <= 1 else { throw Malformed(description: "ATTACHMENT_END without a valid outcome byte") }
            guard let reason = String(validating: body[(at + 1)...], as: UTF8.self) else {
                throw Malformed(description: "ATTACHMENT_END reason is not UTF-8")
            }
            return .end(root: root, complete: body[at] == 0, reason: reason)
        default:
            throw Malformed(description: "frame type \(type.rawValue) is not an attachment frame")
        }
    }

    /// The frame to write.
    var frame: Frame {
        func be32(_ value: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
        switch self {
        case .chunk(let root, let index, let proof, let bytes):
            return .attachment(.chunk, root + be32(index) + [UInt8(proof.count)] + proof.flatMap { $0 } + bytes)
        case .ack(let root, let held):
            return .attachment(.chunkAck, root + be32(held))
        case .end(let root, let complete, let reason):
            return .attachment(.attachmentEnd, root + [complete ? 0 : 1] + Array(reason.utf8.prefix(1000)))
        }
    }
}

/// The Merkle tree over one attachment's chunk hashes, kept level by level so that each
/// chunk's inclusion proof costs O(log n) instead of rebuilding subtrees: the sender
/// sends a proof with every chunk (RFC 9162 §2.1.3.1).
struct ChunkTree: Sendable {
    /// levels[0] the leaf hashes; levels[j][i] the hash of the perfect subtree of leaves
    /// i·2^j ..< (i+1)·2^j.
    private var levels: [[[UInt8]]]
    let count: Int

    init(leafHashes: [[UInt8]]) {
        count = leafHashes.count
        levels = [leafHashes]
        while let last = levels.last, last.count > 1 {
            levels.append(stride(from: 0, to: last.count - 1, by: 2).map { MerkleTreeHash.node(last[$0], last[$0 + 1]) })
        }
    }

    /// MTH(D[start:end]).
    func hash(_ start: Int, _ end: Int) -> [UInt8] {
        let size = end - start
        if size & (size - 1) == 0 {
            let level = size.trailingZeroBitCount
            if start % size == 0, level < levels.count, start / size < levels[level].count { return levels[level][start / size] }
        }
        let k = Int(MerkleTreeHash.split(UInt64(size)))
        return MerkleTreeHash.node(hash(start, start + k), hash(start + k, end))
    }

    var root: [UInt8] { hash(0, count) }

    /// PATH(m, D[n]), leaf to root.
    func proof(_ index: Int) -> [[UInt8]] {
        var (m, start, end) = (index, 0, count)
        var siblings: [[UInt8]] = []
        while end - start > 1 {
            let k = Int(MerkleTreeHash.split(UInt64(end - start)))
            if m < k {
                siblings.append(hash(start + k, end))
                end = start + k
            } else {
                siblings.append(hash(start, start + k))
                m -= k
                start += k
            }
        }
        return siblings.reversed()
    }
}
