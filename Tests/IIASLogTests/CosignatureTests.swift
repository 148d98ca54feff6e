import Foundation
import IIASCrypto
import IIASLog
import XCTest

/// C2SP tlog-cosignature/v1 (Ed25519) byte for byte: a cosigned checkpoint published by a
/// running public witness, the specification's example line, and a signature made from a
/// published test key whose expected line was computed independently (OpenSSL Ed25519).
final class CosignatureTests: XCTestCase {
    /// A checkpoint of the arche2025h1 staging CT log as published with its witnesses'
    /// cosignatures, with the log's key and the remora.n621.de witness key (C2SP vkeys:
    /// "name+keyID+base64(type ‖ key)").
    static let publishedBody = "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
    static let publishedNote = publishedBody + "\n" + """
        — arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
        — arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
        — transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
        — witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
        — remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
        — witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==

        """
    static let logVkey = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
    static let witnessVkey = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

    /// (name, key ID, public key) of a vkey; the key type byte must be `type`.
    static func vkey(_ text: String, type: UInt8) throws -> (String, [UInt8], SigningPublicKey) {
        let parts = text.split(separator: "+", maxSplits: 2).map(String.init)
        let raw = try XCTUnwrap(Data(base64Encoded: parts[2]))
        XCTAssertEqual(raw.first, type)
        return (parts[0], try XCTUnwrap([UInt8](hexString: parts[1])), try SigningPublicKey(rawRepresentation: Array(raw.dropFirst())))
    }

    func testAPublishedWitnessCosignatureVerifiesAndItsKeyIDIsTheVkeys() throws {
        let note = try SignedNote(parsing: Self.publishedNote)
        XCTAssertEqual(note.text, Self.publishedNote, "parsing and writing back changes nothing")
        let (name, keyID, key) = try Self.vkey(Self.witnessVkey, type: 0x04)
        XCTAssertEqual(Cosignature.keyID(name: name, publicKey: key), keyID)
        let cosignature = try Cosignature.verify(note: note, name: name, publicKey: key)
        XCTAssertEqual(cosignature.timestamp, 1_779_573_024)
        XCTAssertEqual(cosignature.line, "— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n")
        // The log's own Ed25519 note signature (type 0x01) verifies with the same parser.
        let (logName, logKeyID, logKey) = try Self.vkey(Self.logVkey, type: 0x01)
        XCTAssertEqual(Checkpoint.keyHash(name: logName, publicKey: logKey), logKeyID)
        XCTAssertEqual(try Checkpoint.verify(note: Self.publishedNote, name: logName, publicKey: logKey).treeSize, 1_432_088_532)
        // Four witnesses framed as cosignatures; the two log lines (68 and 75 bytes) are not.
        XCTAssertEqual(Cosignature.all(in: note).map(\.name), ["transparency.dev/DEV:witness-little-garden", "witness1.smartit.nu/witness1",
                                                               "remora.n621.de", "witness.stagemole.eu"])
    }

    /// tlog-cosignature's example line: key ID, the timestamp of its "time 1679315147"
    /// message example, a 64-byte signature, and the same line written back.
    func testTheSpecificationsExampleLineReadsAndWritesBack() throws {
        let line = "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
        let cosignature = try Cosignature(try XCTUnwrap(SignedNote.signatures(parsing: Substring(line)).first))
        XCTAssertEqual(cosignature.name, "witness.example.com/w1")
        XCTAssertEqual(cosignature.keyID, [0x8d, 0x66, 0xcf, 0x3f])
        XCTAssertEqual(cosignature.timestamp, 1_679_315_147)
        XCTAssertEqual(cosignature.signature.count, 64)
        XCTAssertEqual(cosignature.line, line)
        XCTAssertEqual(String(decoding: Cosignature.message(body: "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                                                            timestamp: 1_679_315_147), as: UTF8.self),
                       "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    }

    /// The seed of golang.org/x/mod's published note test key (PeterNeumann+c74f20a3);
    /// the expected line was made with `openssl pkeyutl -sign -rawin` from the same seed.
    static let testSeed = [UInt8](hexString: "810a1402d5146c8d84f2443330f54080ebf98ee17d9c74f6252fc5d5c7283173")!

    func testSigningMatchesAnIndependentImplementation() throws {
        let key = try Self.testSeed.withUnsafeBytes { try SigningPrivateKey(seed: $0) }
        XCTAssertEqual(Checkpoint.keyHash(name: "PeterNeumann", publicKey: key.publicKey), [0xc7, 0x4f, 0x20, 0xa3], "the published key")
        let cosignature = Cosignature.sign(body: Self.publishedBody, name: Cosignature.name(center: "GE"), key: key, timestamp: 1_779_573_024)
        XCTAssertEqual(cosignature.keyID, [0x8e, 0x69, 0x3d, 0x09])
        XCTAssertEqual(cosignature.line, "— iias:center:GE/witness jmk9CQAAAABqEiEgFQwMLAA5CJGdYTRx9Z+HT7LzHX0za63saL2nzECQ/3kyG0fVXrzDshjHbuK7XA+2hGxsfyj+2vwucGwm/EvTDg==\n")
        let note = try SignedNote(parsing: Self.publishedNote).adding([cosignature.noteSignature])
        XCTAssertEqual(try Cosignature.verify(note: try SignedNote(parsing: note.text), name: "iias:center:GE/witness", publicKey: key.publicKey), cosignature)
    }

    /// Each field of the line changed in turn: the cosignature is refused (a changed name
    /// or key ID no longer names the key, so it is not found at all).
    func testEveryFieldTamperedIsRefused() throws {
        let key = SigningPrivateKey.generate()
        let name = Cosignature.name(center: "GE")
        let good = Cosignature.sign(body: Self.publishedBody, name: name, key: key, timestamp: 1_800_000_000)
        func verify(_ cosignature: Cosignature, body: String = CosignatureTests.publishedBody) -> CosignatureError? {
            do {
                _ = try Cosignature.verify(note: SignedNote(body: body, signatures: [cosignature.noteSignature]), name: name, publicKey: key.publicKey)
                return nil
            } catch { return error }
        }
        XCTAssertNil(verify(good))
        var renamed = good; renamed.name = Cosignature.name(center: "AZ")
        var otherID = good; otherID.keyID[0] ^= 1
        var retimed = good; retimed.timestamp += 1
        var forged = good; forged.signature[10] ^= 0x80
        XCTAssertEqual(verify(renamed), .noCosignature(name))
        XCTAssertEqual(verify(otherID), .noCosignature(name))
        XCTAssertEqual(verify(retimed), .badSignature(name))
        XCTAssertEqual(verify(forged), .badSignature(name))
        // The body: origin, size, root, and an added extension line are all covered.
        for body in [Self.publishedBody.replacingOccurrences(of: "arche", with: "archf"),
                     Self.publishedBody.replacingOccurrences(of: "1432088532", with: "1432088533"),
                     Self.publishedBody.replacingOccurrences(of: "U7WM", with: "U7WN"),
                     Self.publishedBody + "extension\n"] {
            XCTAssertEqual(verify(good, body: body), .badSignature(name), body)
        }
        // Another witness key under the right name is not this key.
        let other = Cosignature.sign(body: Self.publishedBody, name: name, key: SigningPrivateKey.generate(), timestamp: 1_800_000_000)
        XCTAssertEqual(verify(other), .noCosignature(name))
    }

    func testAFarFutureTimestampIsRefusedWhenTheVerifierAsks() throws {
        let key = SigningPrivateKey.generate()
        let name = Cosignature.name(center: "MD")
        let stamp: UInt64 = 1_800_000_000
        let note = SignedNote(body: Self.publishedBody, signatures: [Cosignature.sign(body: Self.publishedBody, name: name, key: key, timestamp: stamp).noteSignature])
        let hourBefore = Date(timeIntervalSince1970: TimeInterval(stamp - 3600))
        XCTAssertNoThrow(try Cosignature.verify(note: note, name: name, publicKey: key.publicKey, options: .init(now: hourBefore)))
        XCTAssertThrowsError(try Cosignature.verify(note: note, name: name, publicKey: key.publicKey,
                                                    options: .init(now: hourBefore, maximumFutureSeconds: 300))) {
            XCTAssertEqual($0 as? CosignatureError, .fromTheFuture(name: name, timestamp: stamp, now: stamp - 3600))
        }
        XCTAssertNoThrow(try Cosignature.verify(note: note, name: name, publicKey: key.publicKey,
                                                options: .init(now: Date(timeIntervalSince1970: TimeInterval(stamp - 60)), maximumFutureSeconds: 300)))
    }

    func testLinesThatAreNotCosignaturesAreRefused() throws {
        let log = SigningPrivateKey.generate()
        let name = "iias:center:AZ/log"
        // A plain note signature (4 + 64 bytes) under the name and ID is not a cosignature.
        let plain = SignedNote.Signature(name: name, keyHash: Cosignature.keyID(name: name, publicKey: log.publicKey),
                                         signature: log.signature(for: Array(Self.publishedBody.utf8)))
        XCTAssertThrowsError(try Cosignature.verify(note: SignedNote(body: Self.publishedBody, signatures: [plain]), name: name, publicKey: log.publicKey)) {
            XCTAssertTrue("\($0)".contains("76 bytes"), "\($0)")
        }
        var huge = Cosignature.sign(body: Self.publishedBody, name: name, key: log, timestamp: 1).noteSignature
        huge.signature[0] = 0x80 // timestamp ≥ 2^63
        XCTAssertThrowsError(try Cosignature(huge)) { XCTAssertTrue("\($0)".contains("2^63"), "\($0)") }
        XCTAssertThrowsError(try SignedNote.signatures(parsing: "— name !!!!\n"))
        XCTAssertThrowsError(try SignedNote.signatures(parsing: "name AAAAAAAA\n"))
        XCTAssertEqual(try SignedNote.signatures(parsing: "").count, 0)
    }
}
