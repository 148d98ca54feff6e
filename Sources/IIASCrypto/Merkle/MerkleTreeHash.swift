/// The Merkle tree hash of RFC 9162 §2.1 (the same as RFC 6962 §2.1), kept here so that
/// both the log (IIASLog, which builds on it) and attachment commitments use one
/// definition: hashes are 32-byte SHA-256 values held as `[UInt8]`.
public enum MerkleTreeHash {
    /// RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0)).
    public static func leaf(_ entry: some ContiguousBytesView) -> [UInt8] {
        SHA256.hash(prefixByte: 0x00, entry)
    }

    /// RFC 9162 §2.1.1: MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
    public static func node(_ left: some ContiguousBytesView, _ right: some ContiguousBytesView) -> [UInt8] {
        left.withBytes { left in right.withBytes { right in SHA256.hash(prefixByte: 0x01, left, right) } }
    }

    /// MTH({}) = SHA-256() (RFC 9162 §2.1.1).
    public static let emptyRoot: [UInt8] = SHA256.hash([UInt8]())

    /// k: the largest power of two smaller than n (n > 1).
    public static func split(_ n: UInt64) -> UInt64 {
        1 << (63 - UInt64((n - 1).leadingZeroBitCount))
    }

    /// MTH of a list of leaf hashes held in memory.
    public static func root(leafHashes: [[UInt8]]) -> [UInt8] {
        var frontier = MerkleFrontier()
        for leafHash in leafHashes { frontier.append(leafHash: leafHash) }
        return frontier.rootHash
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1 over leaf hashes held in memory, leaf to root;
    /// empty when `leafIndex` is out of range.
    public static func inclusionProof(leafIndex: Int, leafHashes: [[UInt8]]) -> [[UInt8]] {
        guard leafHashes.indices.contains(leafIndex) else { return [] }
        var (m, start, end) = (leafIndex, 0, leafHashes.count)
        var siblings: [[UInt8]] = []
        while end - start > 1 {
            let k = Int(split(UInt64(end - start)))
            // m < k: PATH(m, D[0:k]) : MTH(D[k:n]); else PATH(m - k, D[k:n]) : MTH(D[0:k]).
            if m < k {
                siblings.append(root(leafHashes: Array(leafHashes[(start + k)..<end])))
                end = start + k
            } else {
                siblings.append(root(leafHashes: Array(leafHashes[start..<(start + k)])))
                m -= k
                start += k
            }
        }
        return siblings.reversed()
    }

    /// Verifies an inclusion proof (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(leafIndex: UInt64, treeSize: UInt64, leafHash: [UInt8],
                                       proof: [[UInt8]], root: [UInt8]) -> Bool {
        // 1. leaf_index must be < tree_size.
        guard leafIndex < treeSize else { return false }
        // 2. fn = leaf_index, sn = tree_size - 1, r = hash.
        var fn = leafIndex, sn = treeSize - 1
        var r = leafHash
        // 3. for each p in inclusion_path:
        for p in proof {
            guard p.count == SHA256.byteCount, sn != 0 else { return false }
            if fn & 1 == 1 || fn == sn {
                r = node(p, r)
                if fn & 1 == 0 { while fn & 1 == 0 && fn != 0 { fn >>= 1; sn >>= 1 } }
            } else {
                r = node(r, p)
            }
            fn >>= 1; sn >>= 1
        }
        // 4. sn must be 0 and r must equal root_hash.
        return sn == 0 && constantTimeEqual(r, root)
    }
}
