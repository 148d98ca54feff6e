import Foundation

/// Another hash source's stored hashes, each read once while many proofs are built at one
/// tree size (a frame of receipt proofs): neighbouring leaves share most of their paths, so
/// a batch of proofs costs a read per distinct stored hash rather than one per hash per
/// proof. Bounded: it holds at most `capacity` hashes (32 bytes each) and forgets them all
/// when full; what it returns is always what the source returns.
public final class MerkleHashCache: MerkleHashSource, @unchecked Sendable {
    private struct Key: Hashable {
        var level: Int
        var index: UInt64
    }

    private let source: any MerkleHashSource
    /// Hashes held at most.
    public let capacity: Int
    private let lock = NSLock()
    private var hashes: [Key: [UInt8]] = [:]
    private var sourceReads = 0

    /// The default holds a frame's worth: 256 proofs of up to 63 hashes and their 256 leaves
    /// (about 1.5 MiB with the table's own bytes).
    public init(_ source: any MerkleHashSource, capacity: Int = 1 << 14) {
        precondition(capacity > 0, "a cache holds at least one hash")
        self.source = source
        self.capacity = capacity
    }

    public var treeSize: UInt64 { source.treeSize }

    /// Hashes held now (at most `capacity`).
    public var count: Int { lock.withLock { hashes.count } }

    /// Hashes asked of the source so far.
    public var reads: Int { lock.withLock { sourceReads } }

    public func storedHash(level: Int, index: UInt64) throws -> [UInt8] {
        let key = Key(level: level, index: index)
        if let known = lock.withLock({ hashes[key] }) { return known }
        let hash = try source.storedHash(level: level, index: index)
        lock.withLock {
            sourceReads += 1
            if hashes.count >= capacity { hashes.removeAll(keepingCapacity: true) }
            hashes[key] = hash
        }
        return hash
    }
}
