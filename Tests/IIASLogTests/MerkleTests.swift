import IIASCrypto
import IIASLog
import XCTest

/// Known-answer tests against the published RFC 6962 / Certificate Transparency
/// vectors: transparency-dev/merkle `testonly/constants.go` (LeafInputs,
/// NodeHashes, RootHashes), the same data as google/certificate-transparency
/// `merkle_tree_test.cc`. Inclusion and consistency expectations below are
/// the vectors of those test files, written as the published node hashes.
final class MerkleTests: XCTestCase {
    static let leaves: [[UInt8]] = ["", "00", "10", "2021", "3031", "40414243",
                                    "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(hex)
    static let roots: [String] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    static let nodeHashes: [[String]] = [
        ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
         "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
         "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
         "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
         "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
         "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
         "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
         "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"],
        ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
         "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
         "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
         "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"],
        ["d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
         "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
        ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
    ]

    static func hex(_ s: String) -> [UInt8] {
        var out = [UInt8]()
        var it = s.utf8.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String(decoding: [a, b], as: UTF8.self), radix: 16)!) }
        return out
    }

    func tree(_ n: Int) -> InMemoryMerkleTree {
        var t = InMemoryMerkleTree()
        for leaf in Self.leaves.prefix(n) { t.append(leafHash: Merkle.hashLeaf(leaf)) }
        return t
    }

    func testRootsAndNodeHashes() throws {
        XCTAssertEqual(Merkle.emptyRoot.hexString, Self.roots[0])
        for size in 0...8 {
            XCTAssertEqual(try tree(size).rootHash(treeSize: UInt64(size)).hexString, Self.roots[size], "size \(size)")
        }
        let full = tree(8)
        for (level, row) in Self.nodeHashes.enumerated() {
            for (i, h) in row.enumerated() { XCTAssertEqual(try full.storedHash(level: level, index: UInt64(i)).hexString, h) }
        }
    }

    /// The right edge alone gives the same roots as the whole tree (the RFC 6962 vectors
    /// and every size to 70), and what an append completes is the tlog stored-hash order.
    func testFrontierRootsAndStoredHashOrder() throws {
        var frontier = MerkleFrontier()
        XCTAssertEqual(frontier.rootHash.hexString, Self.roots[0])
        var whole = InMemoryMerkleTree()
        var stored: [[UInt8]] = []
        for i in 0..<70 {
            let leaf = Merkle.hashLeaf(Array("leaf \(i)".utf8))
            whole.append(leafHash: leaf)
            stored.append(leaf)
            stored.append(contentsOf: frontier.append(leafHash: leaf))
            XCTAssertEqual(frontier.treeSize, UInt64(i + 1))
            XCTAssertEqual(frontier.rootHash, try whole.rootHash(treeSize: UInt64(i + 1)), "size \(i + 1)")
        }
        XCTAssertEqual(stored.count, 2 * 70 - 70.nonzeroBitCount)
        for level in 0..<7 {
            for index in 0..<(70 >> level) {
                let position = Int(DiskMerkleHashes.storedHashIndex(level: level, index: UInt64(index)))
                XCTAssertEqual(stored[position], try whole.storedHash(level: level, index: UInt64(index)), "level \(level) index \(index)")
            }
        }
        var vectors = MerkleFrontier()
        for (size, leaf) in Self.leaves.enumerated() {
            vectors.append(leafHash: Merkle.hashLeaf(leaf))
            XCTAssertEqual(vectors.rootHash.hexString, Self.roots[size + 1])
        }
    }

    /// The in-memory proofs of IIASCrypto (attachment chunks) are the log's proofs: same
    /// root and same path for every leaf of every size to 33, and each verifies.
    func testInMemoryProofsOverALeafListEqualTheLogsProofs() throws {
        var whole = InMemoryMerkleTree()
        var leaves: [[UInt8]] = []
        for size in 1...33 {
            let leaf = Merkle.hashLeaf(Array("chunk \(size)".utf8))
            whole.append(leafHash: leaf)
            leaves.append(leaf)
            let root = MerkleTreeHash.root(leafHashes: leaves)
            XCTAssertEqual(root, try whole.rootHash(treeSize: UInt64(size)), "size \(size)")
            for index in 0..<size {
                let proof = MerkleTreeHash.inclusionProof(leafIndex: index, leafHashes: leaves)
                XCTAssertEqual(proof, try whole.inclusionProof(leafIndex: UInt64(index), treeSize: UInt64(size)), "leaf \(index) of \(size)")
                XCTAssertTrue(MerkleTreeHash.verifyInclusion(leafIndex: UInt64(index), treeSize: UInt64(size), leafHash: leaves[index],
                                                             proof: proof, root: root))
            }
        }
        XCTAssertEqual(MerkleTreeHash.inclusionProof(leafIndex: 33, leafHashes: leaves), [])
    }

    func testInclusionVectors() throws {
        let nh = Self.nodeHashes
        // (leaf index, tree size, path) from the CT inclusion-proof vectors.
        let cases: [(UInt64, UInt64, [String])] = [
            (0, 1, []),
            (0, 8, [nh[0][1], nh[1][1], nh[2][1]]),
            (5, 8, [nh[0][4], nh[1][3], nh[2][0]]),
            (2, 3, [nh[1][0]]),
            (1, 5, [nh[0][0], nh[1][1], nh[0][4]]),
        ]
        let t = tree(8)
        for (index, size, expected) in cases {
            let proof = try t.inclusionProof(leafIndex: index, treeSize: size)
            XCTAssertEqual(proof.map(\.hexString), expected, "\(index)/\(size)")
            XCTAssertTrue(Merkle.verifyInclusion(leafIndex: index, treeSize: size, leafHash: Merkle.hashLeaf(Self.leaves[Int(index)]),
                                                 proof: proof, root: Self.hex(Self.roots[Int(size)])))
        }
    }

    func testConsistencyVectors() throws {
        let nh = Self.nodeHashes
        let cases: [(UInt64, UInt64, [String])] = [
            (1, 1, []),
            (1, 8, [nh[0][1], nh[1][1], nh[2][1]]),
            (6, 8, [nh[1][2], nh[1][3], nh[2][0]]),
            (2, 5, [nh[1][1], nh[0][4]]),
        ]
        let t = tree(8)
        for (m, n, expected) in cases {
            let proof = try t.consistencyProof(from: m, to: n)
            XCTAssertEqual(proof.map(\.hexString), expected, "\(m)->\(n)")
            XCTAssertTrue(Merkle.verifyConsistency(firstSize: m, secondSize: n, firstRoot: Self.hex(Self.roots[Int(m)]),
                                                   secondRoot: Self.hex(Self.roots[Int(n)]), proof: proof))
        }
    }

    /// Every inclusion and consistency proof of every tree up to 70 leaves verifies,
    /// and fails with any one hash altered, or with the wrong index or size.
    func testExhaustiveSmallTrees() throws {
        var t = InMemoryMerkleTree()
        var leafHashes: [[UInt8]] = []
        for i in 0..<70 {
            let h = Merkle.hashLeaf(Array("leaf \(i)".utf8))
            leafHashes.append(h)
            t.append(leafHash: h)
        }
        for n in 1...UInt64(70) {
            let root = try t.rootHash(treeSize: n)
            for m in 0..<n {
                let proof = try t.inclusionProof(leafIndex: m, treeSize: n)
                XCTAssertTrue(Merkle.verifyInclusion(leafIndex: m, treeSize: n, leafHash: leafHashes[Int(m)], proof: proof, root: root))
                assertAlteredFails(proof) { Merkle.verifyInclusion(leafIndex: m, treeSize: n, leafHash: leafHashes[Int(m)], proof: $0, root: root) }
                if n > 1 {
                    XCTAssertFalse(Merkle.verifyInclusion(leafIndex: (m + 1) % n, treeSize: n, leafHash: leafHashes[Int(m)], proof: proof, root: root))
                }
                let first = m + 1
                let c = try t.consistencyProof(from: first, to: n)
                let firstRoot = try t.rootHash(treeSize: first)
                XCTAssertTrue(Merkle.verifyConsistency(firstSize: first, secondSize: n, firstRoot: firstRoot, secondRoot: root, proof: c))
                assertAlteredFails(c) { Merkle.verifyConsistency(firstSize: first, secondSize: n, firstRoot: firstRoot, secondRoot: root, proof: $0) }
                if first < n {
                    XCTAssertFalse(Merkle.verifyConsistency(firstSize: first, secondSize: n, firstRoot: root, secondRoot: root, proof: c))
                }
            }
        }
    }

    /// Random sizes up to 100,000 leaves: sampled proofs verify; altered ones fail.
    func testRandomLargeTrees() throws {
        var t = InMemoryMerkleTree()
        var leafHashes: [[UInt8]] = []
        for i in 0..<100_000 {
            var leaf = [UInt8](repeating: 0, count: 8)
            for k in 0..<8 { leaf[k] = UInt8(truncatingIfNeeded: i >> (8 * k)) }
            let h = Merkle.hashLeaf(leaf)
            leafHashes.append(h)
            t.append(leafHash: h)
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let n = UInt64.random(in: 1...100_000, using: &rng)
            let m = UInt64.random(in: 0..<n, using: &rng)
            let root = try t.rootHash(treeSize: n)
            let proof = try t.inclusionProof(leafIndex: m, treeSize: n)
            XCTAssertTrue(Merkle.verifyInclusion(leafIndex: m, treeSize: n, leafHash: leafHashes[Int(m)], proof: proof, root: root))
            assertAlteredFails(proof) { Merkle.verifyInclusion(leafIndex: m, treeSize: n, leafHash: leafHashes[Int(m)], proof: $0, root: root) }
            let first = m + 1
            let firstRoot = try t.rootHash(treeSize: first)
            let c = try t.consistencyProof(from: first, to: n)
            XCTAssertTrue(Merkle.verifyConsistency(firstSize: first, secondSize: n, firstRoot: firstRoot, secondRoot: root, proof: c))
            assertAlteredFails(c) { Merkle.verifyConsistency(firstSize: first, secondSize: n, firstRoot: firstRoot, secondRoot: root, proof: $0) }
        }
    }

    func testOutOfRangeRequestsThrow() {
        let t = tree(8)
        XCTAssertThrowsError(try t.inclusionProof(leafIndex: 8, treeSize: 8))
        XCTAssertThrowsError(try t.inclusionProof(leafIndex: 0, treeSize: 9))
        XCTAssertThrowsError(try t.consistencyProof(from: 5, to: 4))
        XCTAssertFalse(Merkle.verifyInclusion(leafIndex: 3, treeSize: 3, leafHash: Merkle.emptyRoot, proof: [], root: Merkle.emptyRoot))
        XCTAssertFalse(Merkle.verifyInclusion(leafIndex: 0, treeSize: 2, leafHash: Merkle.emptyRoot, proof: [[1, 2]], root: Merkle.emptyRoot))
    }

    /// Flipping one bit of any one hash, dropping or adding a hash must all fail.
    func assertAlteredFails(_ proof: [[UInt8]], file: StaticString = #filePath, line: UInt = #line, _ verify: ([[UInt8]]) -> Bool) {
        for i in proof.indices {
            var bad = proof
            bad[i][Int.random(in: 0..<32)] ^= 0x40
            XCTAssertFalse(verify(bad), "hash \(i) altered", file: file, line: line)
        }
        if !proof.isEmpty { XCTAssertFalse(verify(Array(proof.dropLast())), file: file, line: line) }
        XCTAssertFalse(verify(proof + [Merkle.emptyRoot]), file: file, line: line)
    }
}
