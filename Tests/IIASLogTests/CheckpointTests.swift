import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

final class CheckpointTests: XCTestCase {
    let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 8,
                                rootHash: MerkleTests.hex(MerkleTests.roots[8]))

    /// Expected base64 computed independently (Python base64 of the RFC 6962 size-8 root).
    func testBodyFormat() {
        XCTAssertEqual(checkpoint.body, "iias:center:AZ/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n")
    }

    /// Signed with the AZ center's real signing key, verified with the key from its certificate.
    func testSignAndVerifyWithCenterCertificate() throws {
        let dir = TestPKI.shared.centerDirectory("AZ")
        let key = try PrivateKeyFile.loadSigningKey(dir + "/signing.key")
        let cert = try Certificate(pem: Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/signing.crt"))))
        let note = checkpoint.signedNote(name: checkpoint.origin, key: key)
        XCTAssertTrue(note.contains("\n\n\u{2014} iias:center:AZ/log "))
        XCTAssertEqual(try Checkpoint.verify(note: note, name: checkpoint.origin, publicKey: cert.signingPublicKey()), checkpoint)
    }

    /// New tree heads are signed under the origin; those signed under the bare center id
    /// before still verify as that center's log; neither passes for another center's log.
    func testTheLogKeyNameIsTheOriginAndOlderShortNamesStillVerify() throws {
        let key = SigningPrivateKey.generate()
        let current = checkpoint.signedNote(key: key)
        XCTAssertEqual(try SignedNote(parsing: current).signatures.map(\.name), ["iias:center:AZ/log"])
        XCTAssertEqual(try Checkpoint.verify(note: current, logOf: "AZ", publicKey: key.publicKey), checkpoint)
        let older = checkpoint.signedNote(name: "AZ", key: key)
        XCTAssertEqual(try Checkpoint.verify(note: older, logOf: "AZ", publicKey: key.publicKey), checkpoint)
        XCTAssertThrowsError(try Checkpoint.verify(note: current, logOf: "AZ", publicKey: SigningPrivateKey.generate().publicKey)) {
            XCTAssertEqual($0 as? CheckpointError, .badSignature("iias:center:AZ/log"))
        }
        // AZ's key and name on a checkpoint of GE's log: refused as GE's and as AZ's.
        let geHead = Checkpoint(origin: Checkpoint.origin(center: "GE"), treeSize: 8, rootHash: checkpoint.rootHash)
        for note in [geHead.signedNote(name: "AZ", key: key), geHead.signedNote(name: "iias:center:AZ/log", key: key)] {
            XCTAssertThrowsError(try Checkpoint.verify(note: note, logOf: "GE", publicKey: key.publicKey))
            XCTAssertThrowsError(try Checkpoint.verify(note: note, logOf: "AZ", publicKey: key.publicKey)) {
                XCTAssertTrue("\($0)".contains("is not AZ's log"), "\($0)")
            }
        }
    }

    func testTamperingAndWrongKeyFail() throws {
        let key = SigningPrivateKey.generate()
        let other = SigningPrivateKey.generate()
        let note = checkpoint.signedNote(name: "n", key: key)
        XCTAssertNoThrow(try Checkpoint.verify(note: note, name: "n", publicKey: key.publicKey))
        XCTAssertThrowsError(try Checkpoint.verify(note: note, name: "n", publicKey: other.publicKey))
        XCTAssertEqual(try? Checkpoint.verify(note: note, name: "x", publicKey: key.publicKey), nil)
        // Changing any byte of the body breaks the signature or the parse.
        let bytes = Array(note.utf8)
        let bodyLength = checkpoint.body.utf8.count
        for i in 0..<(bodyLength - 1) {
            var bad = bytes
            bad[i] = bad[i] == 0x41 ? 0x42 : 0x41
            XCTAssertThrowsError(try Checkpoint.verify(note: String(decoding: bad, as: UTF8.self), name: "n", publicKey: key.publicKey), "byte \(i)")
        }
        let sigStart = note.range(of: "\u{2014} n ")!.upperBound
        var badSig = note
        badSig.replaceSubrange(sigStart..<note.index(sigStart, offsetBy: 10), with: "AAAAAAAAAA")
        XCTAssertThrowsError(try Checkpoint.verify(note: badSig, name: "n", publicKey: key.publicKey))
    }

    func testMalformedNotes() {
        let key = SigningPrivateKey.generate()
        for text in ["", "garbage", "a\n1\nxx\n\n\u{2014} n AAAA\n", "a\nnotanumber\nAAAA\n\n", "\n\n\n",
                     String(repeating: "x", count: 70_000)] {
            XCTAssertThrowsError(try Checkpoint.verify(note: text, name: "n", publicKey: key.publicKey), text.prefix(20).description)
        }
        XCTAssertThrowsError(try Checkpoint(body: "origin\n-1\nAAAA\n"))
        XCTAssertThrowsError(try Checkpoint(body: "origin\n01\n\(Data(count: 32).base64EncodedString())\n"))
        XCTAssertNoThrow(try Checkpoint(body: "origin\n1\n\(Data(count: 32).base64EncodedString())\n"))
    }

    /// One parser of signed notes serves every reader: a well-formed note with several
    /// signers reads back exactly; each malformed shape is named.
    func testSignedNoteParsesEveryLineAndNamesWhatIsWrong() throws {
        let key = SigningPrivateKey.generate()
        let checkpoint = Checkpoint(origin: Checkpoint.origin(center: "AZ"), treeSize: 7, rootHash: [UInt8](repeating: 9, count: 32))
        let note = checkpoint.signedNote(name: "iias:center:AZ/log", key: key)
        let cosigned = note + "\u{2014} witness.example \(Data([1, 2, 3, 4] + [UInt8](repeating: 5, count: 72)).base64EncodedString())\n"
        let parsed = try SignedNote(parsing: cosigned)
        XCTAssertEqual(parsed.body, checkpoint.body)
        XCTAssertEqual(parsed.signatures.map(\.name), ["iias:center:AZ/log", "witness.example"])
        XCTAssertEqual(parsed.signatures[0].keyHash, Checkpoint.keyHash(name: "iias:center:AZ/log", publicKey: key.publicKey))
        XCTAssertEqual(parsed.signatures[1].signature.count, 72, "a signature of another length (a cosignature's) reads as it is")
        XCTAssertEqual(try parsed.checkpoint(), checkpoint)
        XCTAssertEqual(try Checkpoint.verify(note: cosigned, name: "iias:center:AZ/log", publicKey: key.publicKey), checkpoint)
        for (text, words) in [(checkpoint.body, "no blank line"), (checkpoint.body + "\n", "no signature lines"),
                              (checkpoint.body + "\n- n AAAAAAAA\n", "bad signature line"),
                              (checkpoint.body + "\n\u{2014} n !!!!\n", "bad signature blob"),
                              (checkpoint.body + "\n\u{2014} n AAAA\n", "bad signature blob"),
                              (String(repeating: "x", count: 70_000), "larger than 64 KiB")] {
            XCTAssertThrowsError(try SignedNote(parsing: text)) { error in
                XCTAssertTrue("\(error)".contains(words), "\(words): \(error)")
            }
        }
    }
}
