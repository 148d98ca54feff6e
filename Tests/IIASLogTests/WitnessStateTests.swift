import Foundation
import IIASCrypto
import IIASLog
import XCTest

/// The witness's add-checkpoint decision (C2SP tlog-witness), branch by branch, fed with
/// checkpoints of a real Merkle tree and consistency proofs made by the log's own code.
final class WitnessStateTests: XCTestCase {
    static let logKey = SigningPrivateKey.generate()
    static let origin = Checkpoint.origin(center: "AZ")
    static let now: UInt64 = 1_800_000_000
    /// A tree of 20 leaves: every smaller size is a prefix of it.
    static let tree: InMemoryMerkleTree = {
        var tree = InMemoryMerkleTree()
        for i in 0..<20 { tree.append(leafHash: Merkle.hashLeaf(Array("entry \(i)".utf8))) }
        return tree
    }()

    /// The log's signed note of its tree at `size` (or of another `root`).
    static func note(_ size: UInt64, root: [UInt8]? = nil, key: SigningPrivateKey = logKey, name: String = origin) -> SignedNote {
        let checkpoint = Checkpoint(origin: origin, treeSize: size, rootHash: root ?? (try! tree.rootHash(treeSize: size)))
        return try! SignedNote(parsing: checkpoint.signedNote(name: name, key: key))
    }

    static func state(_ size: UInt64, cosignedAt: UInt64 = now - 60) -> WitnessState {
        try! WitnessState(note: note(size), cosignedAt: cosignedAt)
    }

    static func request(old: UInt64, to size: UInt64, proof: [[UInt8]]? = nil, note: SignedNote? = nil) -> AddCheckpointRequest {
        try! AddCheckpointRequest(oldSize: old, proof: proof ?? (try! tree.consistencyProof(from: old, to: size)), note: note ?? Self.note(size))
    }

    static func decide(_ request: AddCheckpointRequest, stored: WitnessState?, keys: [SigningPublicKey] = [logKey.publicKey],
                       now: UInt64 = now) -> WitnessDecision {
        WitnessState.addCheckpoint(request, stored: stored, logKeys: keys, now: now)
    }

    /// Every pair of sizes 0 ≤ m ≤ n ≤ 20 with the log's proof is cosigned; the same
    /// proof with a hash changed, one hash short, or made for another size is not.
    func testEveryConsistentPairUpToTwentyIsCosignedAndEveryBrokenProofRefused() throws {
        for m in UInt64(0)...20 {
            for n in m...20 {
                let stored = m == 0 ? nil : Self.state(m)
                let decision = Self.decide(Self.request(old: m, to: n), stored: stored)
                guard case let .cosign(state) = decision else { return XCTFail("\(m)→\(n): \(decision)") }
                XCTAssertEqual(state.checkpoint.treeSize, n)
                XCTAssertEqual(state.cosignedAt, Self.now)
                XCTAssertEqual(decision.statusCode, 200)
                guard m > 0, m < n else { continue }
                let proof = try Self.tree.consistencyProof(from: m, to: n)
                var flipped = proof
                flipped[flipped.count / 2][0] ^= 1
                var wrongProofs = [flipped, Array(proof.dropLast())]
                if m > 1 { wrongProofs.append(try Self.tree.consistencyProof(from: m - 1, to: n)) }
                for wrong in wrongProofs where wrong != proof {
                    let request = Self.request(old: m, to: n, proof: wrong)
                    let decision = Self.decide(request, stored: stored)
                    XCTAssertEqual(decision, .splitView(SplitViewEvidence(stored: stored!.note, received: request.note, proof: wrong)), "\(m)→\(n)")
                    XCTAssertEqual(decision.statusCode, 422)
                }
            }
        }
    }

    /// A witness following the log: each answer's state is the next request's stored
    /// state, each request goes through its text form, and each cosignature verifies.
    func testAWitnessFollowsALogStepByStep() throws {
        let witnessKey = SigningPrivateKey.generate()
        let witnessName = Cosignature.name(center: "GE")
        var stored: WitnessState?
        for (step, size) in [1, 2, 3, 5, 8, 13, 20].map(UInt64.init).enumerated() {
            let request = Self.request(old: stored?.checkpoint.treeSize ?? 0, to: size)
            let parsed = try AddCheckpointRequest(parsing: request.text)
            XCTAssertEqual(parsed, request)
            let now = Self.now + UInt64(step)
            guard case let .cosign(state) = Self.decide(parsed, stored: stored, now: now) else { return XCTFail("size \(size)") }
            let cosigned = state.note.adding([state.cosignature(name: witnessName, key: witnessKey).noteSignature])
            let cosignature = try Cosignature.verify(note: SignedNote(parsing: cosigned.text), name: witnessName, publicKey: witnessKey.publicKey)
            XCTAssertEqual(cosignature.timestamp, now)
            XCTAssertEqual(try Checkpoint.verify(note: cosigned.text, logOf: "AZ", publicKey: Self.logKey.publicKey).treeSize, size)
            stored = state
        }
    }

    func testTheSameCheckpointIsCosignedAgainAndAnotherRootOfTheSameSizeIsEvidence() throws {
        let stored = Self.state(7)
        guard case let .cosign(again) = Self.decide(Self.request(old: 7, to: 7), stored: stored) else { return XCTFail() }
        XCTAssertEqual(again.checkpoint, stored.checkpoint)
        XCTAssertEqual(again.cosignedAt, Self.now, "a fresh time for the same tree")
        XCTAssertEqual(Self.decide(Self.request(old: 7, to: 7, proof: [Merkle.emptyRoot]), stored: stored), .refuse(.notConsistent(old: 7, new: 7)))

        let forked = Self.note(7, root: try Self.tree.rootHash(treeSize: 8))
        let decision = Self.decide(Self.request(old: 7, to: 7, proof: [], note: forked), stored: stored)
        XCTAssertEqual(decision, .splitView(SplitViewEvidence(stored: stored.note, received: forked)))
        XCTAssertEqual(decision.statusCode, 422)
        guard case let .splitView(evidence) = decision else { return XCTFail() }
        // Both notes stand on the log's signature alone: same size, different roots.
        let notes = try [evidence.stored, evidence.received].map { try Checkpoint.verify(note: $0.text, logOf: "AZ", publicKey: Self.logKey.publicKey) }
        XCTAssertEqual(notes[0].treeSize, notes[1].treeSize)
        XCTAssertNotEqual(notes[0].rootHash, notes[1].rootHash)
    }

    func testAnOldSizeOtherThanTheStoredOneIsAConflictNamingIt() {
        XCTAssertEqual(Self.decide(Self.request(old: 3, to: 9), stored: Self.state(5)), .conflict(storedSize: 5))
        XCTAssertEqual(Self.decide(Self.request(old: 8, to: 9), stored: Self.state(5)), .conflict(storedSize: 5))
        XCTAssertEqual(Self.decide(Self.request(old: 4, to: 9), stored: nil), .conflict(storedSize: 0))
        XCTAssertEqual(WitnessDecision.conflict(storedSize: 5).statusCode, 409)
    }

    func testTheLogsSignatureDecidesAndEveryRefusalCarriesTheSpecificationsStatus() throws {
        let other = SigningPrivateKey.generate()
        var forged = Self.note(9).signatures[0]
        forged.signature[3] ^= 1
        let cases: [(AddCheckpointRequest, [SigningPublicKey], WitnessRefusal, Int)] = [
            (Self.request(old: 0, to: 9), [], .unknownOrigin(Self.origin), 404),
            (Self.request(old: 0, to: 9, note: Self.note(9, key: other)), [Self.logKey.publicKey], .noLogSignature(Self.origin), 403),
            (Self.request(old: 0, to: 9, note: Self.note(9, name: "AZ")), [Self.logKey.publicKey], .noLogSignature(Self.origin), 403),
            (Self.request(old: 0, to: 9, note: SignedNote(body: Self.note(9).body, signatures: [forged])), [Self.logKey.publicKey],
             .badLogSignature(Self.origin), 403),
            (Self.request(old: 0, to: 9, proof: [Merkle.emptyRoot]), [Self.logKey.publicKey], .proofFromEmptyTree, 422),
            (Self.request(old: 0, to: 0, proof: [], note: Self.note(0, root: Merkle.hashLeaf([1]))), [Self.logKey.publicKey], .emptyTreeRoot, 422),
        ]
        for (request, keys, reason, status) in cases {
            let decision = Self.decide(request, stored: nil, keys: keys)
            XCTAssertEqual(decision, .refuse(reason))
            XCTAssertEqual(decision.statusCode, status, "\(reason)")
        }
        XCTAssertEqual(Self.decide(Self.request(old: 9, to: 4, proof: []), stored: Self.state(9)), .refuse(.oldSizeAboveNewSize(old: 9, new: 4)))
        // A log between two keys: either one's signature will do; the empty tree is cosigned.
        XCTAssertEqual(Self.decide(Self.request(old: 0, to: 9, note: Self.note(9, key: other)), stored: nil,
                                   keys: [Self.logKey.publicKey, other.publicKey]).statusCode, 200)
        XCTAssertEqual(Self.decide(Self.request(old: 0, to: 0), stored: nil).statusCode, 200)
    }

    func testTheStoredStateMustBeThisLogsAndTheClockMustNotGoBack() throws {
        let geNote = try SignedNote(parsing: Checkpoint(origin: Checkpoint.origin(center: "GE"), treeSize: 3,
                                                        rootHash: Self.tree.rootHash(treeSize: 3)).signedNote(key: Self.logKey))
        let geState = try WitnessState(note: geNote, cosignedAt: 1)
        XCTAssertEqual(Self.decide(Self.request(old: 3, to: 5), stored: geState),
                       .refuse(.storedStateOfAnotherOrigin(stored: "iias:center:GE/log", requested: Self.origin)))
        let stored = Self.state(5, cosignedAt: Self.now)
        XCTAssertEqual(Self.decide(Self.request(old: 5, to: 6), stored: stored, now: Self.now - 1),
                       .refuse(.clockNotUsable(now: Self.now - 1, lastCosigned: Self.now)))
        XCTAssertEqual(Self.decide(Self.request(old: 5, to: 6), stored: stored, now: Self.now).statusCode, 200, "the same second is fine")
        XCTAssertEqual(Self.decide(Self.request(old: 0, to: 6), stored: nil, now: 0), .refuse(.clockNotUsable(now: 0, lastCosigned: nil)))
        XCTAssertEqual(Self.decide(Self.request(old: 0, to: 6), stored: nil, now: UInt64.max).statusCode, 500)
    }
}
