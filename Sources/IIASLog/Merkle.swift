import IIASCrypto

/// The Merkle tree hashing of RFC 9162 §2.1 (same as RFC 6962 §2.1; defined once in
/// ``MerkleTreeHash`` of IIASCrypto), and the generation and verification of inclusion
/// and consistency proofs over a log's stored hashes.
/// Hashes are 32-byte SHA-256 values held as `[UInt8]`.
public enum Merkle {
    /// RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)).
    public static func hashLeaf(_ entry: some ContiguousBytesView) -> [UInt8] { MerkleTreeHash.leaf(entry) }

    /// RFC 9162 §2.1.1: MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
    public static func hashChildren(_ left: some ContiguousBytesView, _ right: some ContiguousBytesView) -> [UInt8] {
        MerkleTreeHash.node(left, right)
    }

    /// MTH({}) = SHA-256() (RFC 9162 §2.1.1).
    public static var emptyRoot: [UInt8] { MerkleTreeHash.emptyRoot }

    /// k: the largest power of two smaller than n (n > 1).
    static func split(_ n: UInt64) -> UInt64 { MerkleTreeHash.split(n) }

    // MARK: Verification (RFC 9162 §2.1.3.2 and §2.1.4.2)

    /// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8],
                                       proof: [[UInt8]], root: [UInt8]) -> Bool {
        MerkleTreeHash.verifyInclusion(leafIndex: leafIndex, treeSize: treeSize, leafHash: leafHash, proof: proof, root: root)
    }

    /// Verifies a consistency proof between two tree heads (RFC 9162 §2.1.4.2).
    public static func verifyConsistency(firstSize: UInt64, secondSize: UInt64, firstRoot: [UInt8],
                                         secondRoot: [UInt8], proof: [[UInt8]]) -> Bool {
        guard firstSize <= secondSize else { return false }
        if firstSize == secondSize { return proof.isEmpty && constantTimeEqual(firstRoot, secondRoot) }
        if firstSize == 0 { return proof.isEmpty } // the empty tree is a prefix of every tree
        // 1. an empty consistency_path fails.
        guard !proof.isEmpty, proof.allSatisfy({ $0.count == SHA256.byteCount }) else { return false }
        var path = proof
        // 2. if first is an exact power of 2, prepend first_hash.
        if firstSize & (firstSize - 1) == 0 { path.insert(firstRoot, at: 0) }
        // 3. fn = first - 1, sn = second - 1.
        var fn = firstSize - 1, sn = secondSize - 1
        // 4. if LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
        while fn & 1 == 1 { fn >>= 1; sn >>= 1 }
        // 5. fr = sr = first value of the path.
        var fr = path[0], sr = path[0]
        // 6. for each subsequent value c:
        for c in path.dropFirst() {
            guard sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                fr = hashChildren(c, fr)
                sr = hashChildren(c, sr)
                if fn & 1 == 0 { while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 } }
            } else {
                sr = hashChildren(sr, c)
            }
            fn >>= 1; sn >>= 1
        }
        // 7. fr == first_hash, sr == second_hash, sn == 0.
        return sn == 0 && constantTimeEqual(fr, firstRoot) && constantTimeEqual(sr, secondRoot)
    }
}

/// Gives the hash of a complete (power-of-two, aligned) subtree: the stored
/// hashes a log keeps so that proofs cost O(log n) reads.
public protocol MerkleHashSource: Sendable {
    /// Number of leaves.
    var treeSize: UInt64 { get }
    /// Hash of the complete subtree at `level` (0 = leaves) and position `index`.
    func storedHash(level: Int, index: UInt64) throws -> [UInt8]
}

extension MerkleHashSource {
    /// MTH(D[start:end]), built from stored complete-subtree hashes (O(log n) reads).
    public func subtreeHash(_ start: UInt64, _ end: UInt64) throws -> [UInt8] {
        let n = end - start
        if n == 0 { return Merkle.emptyRoot }
        if n & (n - 1) == 0 && start % n == 0 {
            return try storedHash(level: n.trailingZeroBitCount, index: start / n)
        }
        let k = Merkle.split(n)
        return Merkle.hashChildren(try subtreeHash(start, start + k), try subtreeHash(start + k, end))
    }

    /// MTH of the first `size` leaves.
    public func rootHash(treeSize size: UInt64) throws -> [UInt8] {
        guard size <= treeSize else { throw LogError.indexOutOfRange(index: size, treeSize: treeSize) }
        return try subtreeHash(0, size)
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1, leaf to root.
    public func inclusionProof(leafIndex: UInt64, treeSize size: UInt64) throws -> [[UInt8]] {
        guard size <= treeSize, leafIndex < size else {
            throw LogError.indexOutOfRange(index: leafIndex, treeSize: min(size, treeSize))
        }
        return try path(leafIndex, 0, size)
    }

    /// Walks from the root down to leaf `m` of D[start:end] and returns the siblings met
    /// on the way, leaf first: the recursion of the RFC without an array per level.
    private func path(_ m: UInt64, _ start: UInt64, _ end: UInt64) throws -> [[UInt8]] {
        var (m, start, end) = (m, start, end)
        var siblings: [[UInt8]] = []
        siblings.reserveCapacity(64)
        while end - start > 1 {
            let k = Merkle.split(end - start)
            // m < k: PATH(m, D[0:k]) : MTH(D[k:n]); else PATH(m - k, D[k:n]) : MTH(D[0:k]).
            if m < k {
                siblings.append(try subtreeHash(start + k, end))
                end = start + k
            } else {
                siblings.append(try subtreeHash(start, start + k))
                m -= k
                start += k
            }
        }
        siblings.reverse()
        return siblings
    }

    /// PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1.
    public func consistencyProof(from first: UInt64, to second: UInt64) throws -> [[UInt8]] {
        guard second <= treeSize, first <= second else {
            throw LogError.indexOutOfRange(index: first, treeSize: min(second, treeSize))
        }
        if first == 0 || first == second { return [] }
        return try subproof(first, 0, second, true)
    }

    private func subproof(_ m: UInt64, _ start: UInt64, _ end: UInt64, _ b: Bool) throws -> [[UInt8]] {
        let n = end - start
        // m == n: [] if b, else [MTH(D[n])].
        if m == n { return b ? [] : [try subtreeHash(start, end)] }
        let k = Merkle.split(n)
        // m <= k: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]); else SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]).
        if m <= k { return try subproof(m, start, start + k, b) + [subtreeHash(start + k, end)] }
        return try subproof(m - k, start + k, end, false) + [subtreeHash(start, start + k)]
    }
}

/// A Merkle tree held in memory: every complete subtree hash, level by level
/// (about two hashes per leaf). Used by tests, the benchmark and as a reference.
public struct InMemoryMerkleTree: MerkleHashSource, Sendable {
    /// levels[l] holds MTH of leaves [i·2^l, (i+1)·2^l) at bytes [32i, 32i+32): one flat
    /// buffer per level, 32 bytes per hash, no allocation per node.
    private var levels: [[UInt8]] = [[]]
    private static let width = SHA256.byteCount

    public init() {}

    public var treeSize: UInt64 { UInt64(levels[0].count / Self.width) }

    private func count(_ level: Int) -> Int { levels[level].count / Self.width }

    private func hash(_ level: Int, _ index: Int) -> ArraySlice<UInt8> {
        levels[level][(index * Self.width)..<((index + 1) * Self.width)]
    }

    /// Appends a leaf hash and completes every subtree it closes.
    public mutating func append(leafHash: [UInt8]) {
        levels[0].append(contentsOf: leafHash)
        var level = 0
        while count(level) % 2 == 0 {
            let c = count(level)
            let parent = Merkle.hashChildren(hash(level, c - 2), hash(level, c - 1))
            if levels.count == level + 1 { levels.append([]) }
            levels[level + 1].append(contentsOf: parent)
            level += 1
        }
    }

    public func storedHash(level: Int, index: UInt64) throws -> [UInt8] {
        guard level < levels.count, index < UInt64(count(level)) else {
            throw LogError.indexOutOfRange(index: index, treeSize: treeSize)
        }
        return Array(hash(level, Int(index)))
    }
}
