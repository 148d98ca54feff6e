import Foundation
import IIASCrypto
import IIASLog
import XCTest

/// C2SP tlog-proof bundles checked against C2SP tlog-policy files: a published cosigned
/// checkpoint with its log's and a witness's published vkeys, the signed-note vkey example,
/// and a bundle of a small IIAS log in which every hash, signature and cosignature is
/// altered in turn.
final class TlogProofTests: XCTestCase {
    func testThePublishedCheckpointMeetsAPolicyOfItsPublishedKeys() throws {
        let policy = try TlogPolicy(parsing: Array("""
            # the arche2025h1 staging log, witnessed by remora
            log \(CosignatureTests.logVkey) https://example.invalid/log
            \twitness remora \(CosignatureTests.witnessVkey)
            quorum remora

            """.utf8))
        let (checkpoint, cosignatures) = try policy.verify(try SignedNote(parsing: CosignatureTests.publishedNote))
        XCTAssertEqual(checkpoint.treeSize, 1_432_088_532)
        XCTAssertEqual(cosignatures.map(\.witness), ["remora"])
        XCTAssertEqual(cosignatures.map(\.timestamp), [1_779_573_024])
        // A second witness the note has no cosignature of: a group of two is not met.
        let other = TlogPolicy.VerifierKey(name: "other.example/w", type: 0x04, publicKey: SigningPrivateKey.generate().publicKey)
        let strict = try TlogPolicy(parsing: Array("log \(CosignatureTests.logVkey)\nwitness remora \(CosignatureTests.witnessVkey)\nwitness other \(other.text)\ngroup both all remora other\nquorum both\n".utf8))
        XCTAssertThrowsError(try strict.verify(try SignedNote(parsing: CosignatureTests.publishedNote)))
    }

    func testTheSignedNoteExampleVkeyReadsAndAWrongKeyIDIsRefused() throws {
        let key = try TlogPolicy.VerifierKey(parsing: "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
        XCTAssertEqual(key.name, "example.com/foo")
        XCTAssertEqual(key.text, "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
        let note = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
        XCTAssertEqual(Checkpoint.signatureCheck(of: try SignedNote(parsing: note), name: key.name, publicKey: key.publicKey), true)
        XCTAssertThrowsError(try TlogPolicy.VerifierKey(parsing: "example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"))
        XCTAssertThrowsError(try TlogPolicy.VerifierKey(parsing: "example.com/foo+530d903a"))
    }

    func testPolicySyntaxErrorsAreRefused() {
        let log = TlogPolicy.VerifierKey(name: "iias:center:AZ/log", type: 0x01, publicKey: SigningPrivateKey.generate().publicKey).text
        let w = TlogPolicy.VerifierKey(name: "iias:center:GE/witness", type: 0x04, publicKey: SigningPrivateKey.generate().publicKey).text
        for bad in ["log \(log)\n",                                                  // no quorum
                    "log \(log)\nquorum none\nquorum none\n",                        // two quorums
                    "log \(log)\nquorum W\n",                                        // undefined
                    "quorum G\ngroup G any W\nwitness W \(w)\n",                     // used before defined
                    "witness W \(w)\ngroup G 2 W\nquorum G\n",                       // k above n
                    "witness W \(w)\ngroup G any W W\nquorum G\n",                   // member twice
                    "witness W \(w)\nwitness V \(w)\nquorum W\n",                    // duplicate key
                    "witness W \(log)\nquorum W\n",                                  // a log key as a witness
                    "log \(w)\nquorum none\n",                                       // a witness key as a log
                    "witness none \(w)\nquorum none\n",                              // the reserved name
                    "log \(log)\r\nquorum none\n",                                   // a control character
                    "logs \(log)\nquorum none\n"] {                                  // unknown keyword
            XCTAssertThrowsError(try TlogPolicy(parsing: Array(bad.utf8)), bad)
        }
    }

    // MARK: - A bundle of a small log

    struct Fixture {
        let logKey = SigningPrivateKey.generate()
        let witnessKeys = ["AZ", "GE", "UA", "MD"].map { ($0, SigningPrivateKey.generate()) }
        let entries: [LogEntry]
        let bundle: TlogProof

        /// GE's log of 7 entries; entry 5 is a received envelope, cosigned by `cosigners`.
        init(cosigners: [String] = ["AZ", "UA", "MD"]) {
            entries = (0..<7).map { LogEntry(index: UInt64($0), timeMilliseconds: 1_796_000_000_000 + Int64($0), type: $0 == 5 ? .received : .sent,
                                             payload: Array("envelope \($0)".utf8)) }
            let leaves = entries.map { Merkle.hashLeaf($0.encoded()) }
            let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "GE"), treeSize: 7, rootHash: MerkleTreeHash.root(leafHashes: leaves))
            var note = try! SignedNote(parsing: checkpoint.signedNote(key: logKey))
            for (center, key) in witnessKeys where cosigners.contains(center) {
                note = note.adding([Cosignature.sign(body: note.body, name: Cosignature.name(center: center), key: key, timestamp: 1_796_000_100 + UInt64(note.signatures.count)).noteSignature])
            }
            bundle = TlogProof(extra: EntryLeaf(entry: entries[5]).extra, index: 5,
                               proof: MerkleTreeHash.inclusionProof(leafIndex: 5, leafHashes: leaves), checkpoint: note)
        }

        func policy(quorum: Int, witnesses: [String] = ["AZ", "GE", "UA", "MD"]) -> String {
            var text = "log \(TlogPolicy.VerifierKey(name: Checkpoint.origin(center: "GE"), type: 0x01, publicKey: logKey.publicKey).text)\n"
            for (center, key) in witnessKeys where witnesses.contains(center) {
                text += "witness \(center) \(TlogPolicy.VerifierKey(name: Cosignature.name(center: center), type: 0x04, publicKey: key.publicKey).text)\n"
            }
            return text + "group peers \(quorum) \(witnesses.joined(separator: " "))\nquorum peers\n"
        }

        func check(_ text: String, policy: String, envelope: [UInt8]? = Array("envelope 5".utf8)) throws -> TlogProof.Verified {
            let bundle = try TlogProof(parsing: text)
            return try bundle.verify(leafHash: try bundle.entryLeaf(payload: envelope, expectedType: .received).leafHash,
                                     policy: try TlogPolicy(parsing: Array(policy.utf8)))
        }
    }

    func testABundleVerifiesAndItsTextIsTheSpecificationsLayout() throws {
        let fixture = Fixture()
        let text = fixture.bundle.text
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines[0], "c2sp.org/tlog-proof@v1")
        XCTAssertTrue(lines[1].hasPrefix("extra "))
        XCTAssertEqual(lines[2], "index 5")
        XCTAssertEqual(lines[3 + fixture.bundle.proof.count], "", "an empty line before the checkpoint")
        XCTAssertEqual(lines[4 + fixture.bundle.proof.count], "iias:center:GE/log")
        XCTAssertEqual(try TlogProof(parsing: text), fixture.bundle)
        let verified = try fixture.check(text, policy: fixture.policy(quorum: 2))
        XCTAssertEqual(verified.cosignatures.map(\.witness), ["AZ", "UA", "MD"])
        XCTAssertEqual(verified.loggedNoLaterThan, 1_796_000_102, "the time by which two witnesses (the quorum) had cosigned")
        XCTAssertEqual(try fixture.check(text, policy: fixture.policy(quorum: 3)).loggedNoLaterThan, 1_796_000_103)
        XCTAssertEqual(try fixture.check(text, policy: fixture.policy(quorum: 1)).loggedNoLaterThan, 1_796_000_101, "one witness's word")
        XCTAssertNoThrow(try fixture.check(text, policy: fixture.policy(quorum: 2), envelope: nil), "without the envelope the named leaf is proven")
    }

    func testEveryAlteredHashSignatureOrCosignatureIsRefused() throws {
        let fixture = Fixture()
        let text = fixture.bundle.text
        let policy = fixture.policy(quorum: 2)
        var altered: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where number > 0 && line.count > 20 {
            // Flip one base64 character in the middle of each hash, root, signature and cosignature line.
            var characters = Array(line)
            let position = characters.count / 2
            characters[position] = characters[position] == "A" ? "B" : "A"
            var all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            all[number] = String(characters)
            altered.append(all.joined(separator: "\n"))
        }
        XCTAssertEqual(altered.count, 1 + fixture.bundle.proof.count + 1 + 4, "extra, proof hashes, root, log signature, three cosignatures")
        for text in altered { XCTAssertThrowsError(try fixture.check(text, policy: policy), text) }
        XCTAssertThrowsError(try fixture.check(text, policy: policy, envelope: Array("envelope 4".utf8)), "another envelope")
        XCTAssertThrowsError(try fixture.check(text.replacingOccurrences(of: "index 5", with: "index 4"), policy: policy), "another index")
    }

    func testTheQuorumIsNotMetByTooFewOtherOrOwnWitnesses() throws {
        let two = Fixture(cosigners: ["AZ", "UA"])
        XCTAssertNoThrow(try two.check(two.bundle.text, policy: two.policy(quorum: 2)))
        XCTAssertThrowsError(try two.check(two.bundle.text, policy: two.policy(quorum: 3)), "quorum 3, two cosignatures")
        XCTAssertThrowsError(try two.check(two.bundle.text, policy: two.policy(quorum: 2, witnesses: ["GE", "MD"]).replacingOccurrences(of: "group peers 2", with: "group peers 1")),
                             "a policy listing other witnesses")
        // GE's own witness key cosigning GE's log never counts, even when a policy lists it.
        let own = Fixture(cosigners: ["GE", "AZ"])
        XCTAssertThrowsError(try own.check(own.bundle.text, policy: own.policy(quorum: 2)))
        XCTAssertNoThrow(try own.check(own.bundle.text, policy: own.policy(quorum: 1)))
    }

    func testMalformedBundlesAreRefusedBeforeTheirContent() {
        let text = Fixture().bundle.text
        for bad in [text.replacingOccurrences(of: "c2sp.org/tlog-proof@v1", with: "c2sp.org/tlog-proof@v2"),
                    text.replacingOccurrences(of: "index 5", with: "index 05"),
                    text.replacingOccurrences(of: "index 5\n", with: ""),
                    String(text.prefix(while: { $0 != "\n" })) + "\n",
                    text + String(repeating: "x", count: TlogProof.maximumBytes)] {
            XCTAssertThrowsError(try TlogProof(parsing: bad))
        }
    }
}
