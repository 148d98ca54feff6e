/// The right edge of a Merkle tree: the root of each complete subtree that the leaves so
/// far form (one per set bit of the tree size, largest first). A writable log keeps
/// only this in memory — O(log n) hashes, whatever the size — because every other hash
/// it may need for a proof is in its `hashes` file; an attachment's commitment is
/// computed with it while the file streams through.
///
/// RFC 9162 §2.1.1 splits D[n] at the largest power of two k < n, so the tree over n
/// leaves is the complete subtrees of the binary expansion of n joined right to left;
/// `rootHash` does exactly that join.
public struct MerkleFrontier: Sendable {
    /// (height, hash) of each complete subtree on the right edge, largest (leftmost) first.
    private var edge: [(height: Int, hash: [UInt8])] = []

    /// Number of leaves appended.
    public private(set) var treeSize: UInt64 = 0

    public init() {}

    /// Appends a leaf hash; returns the parent hashes it completes, lowest first — with
    /// the leaf hash before them, the stored hashes of this leaf in tlog order.
    @discardableResult
    public mutating func append(leafHash: [UInt8]) -> [[UInt8]] {
        var completed: [[UInt8]] = []
        var node = (height: 0, hash: leafHash)
        // Two complete subtrees of the same height side by side make one of height + 1.
        while let last = edge.last, last.height == node.height {
            edge.removeLast()
            node = (node.height + 1, MerkleTreeHash.node(last.hash, node.hash))
            completed.append(node.hash)
        }
        edge.append(node)
        treeSize += 1
        return completed
    }

    /// MTH(D[treeSize]): the edge's subtrees joined from the right (RFC 9162 §2.1.1).
    public var rootHash: [UInt8] {
        guard var root = edge.last?.hash else { return MerkleTreeHash.emptyRoot }
        for subtree in edge.dropLast().reversed() { root = MerkleTreeHash.node(subtree.hash, root) }
        return root
    }
}
