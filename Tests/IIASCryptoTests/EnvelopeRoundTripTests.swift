import Foundation
import IIASCrypto
import IIASModel
import IIASTestSupport
import XCTest

final class EnvelopeRoundTripTests: XCTestCase {
    func testEveryRecipientOpensTheSameNotification() throws {
        let notification = Samples.notification()
        let recipientKeys = try Samples.directory.encryptionKeys(for: notification.recipients, trust: Samples.trust)
        let envelope = try Envelope.seal(notification, signer: Samples.keys("AZ").signingKey, recipientKeys: recipientKeys)
        let reparsed = try Envelope(parsing: envelope.bytes)
        XCTAssertEqual(reparsed.header, envelope.header)
        XCTAssertEqual(reparsed.header.recipients.map(\.rawValue), ["GE", "MD", "UA"])
        let verified = try Samples.verifier.verify(reparsed)
        for center in ["GE", "UA", "MD"] {
            let keys = Samples.keys(center)
            let opened = try verified.open(as: keys.center, with: keys.encryptionKey)
            XCTAssertEqual(opened, notification, "opened as \(center)")
        }
    }

    func testACenterNotAddressedCannotOpen() throws {
        let verified = try Samples.verifier.verify(try Samples.sealed())
        let outsider = Samples.keys("TJ")
        XCTAssertThrowsError(try verified.open(as: outsider.center, with: outsider.encryptionKey)) { error in
            guard case EnvelopeError.notARecipient(let id) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(id.rawValue, "TJ")
            XCTAssertTrue("\(error)".contains("not addressed to TJ"))
        }
        let sender = Samples.keys("AZ")
        XCTAssertThrowsError(try verified.open(as: sender.center, with: sender.encryptionKey)) { error in
            guard case EnvelopeError.notARecipient = error else { return XCTFail("got \(error)") }
        }
    }

    func testTheWrongKeyCannotOpen() throws {
        let verified = try Samples.verifier.verify(try Samples.sealed())
        let wrong = Samples.keys("UA").encryptionKey
        XCTAssertThrowsError(try verified.open(as: CenterID("GE")!, with: wrong)) { error in
            guard case EnvelopeError.wrongKey(let id) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(id.rawValue, "GE")
        }
    }

    func testSealingRefusesARecipientWithoutAKey() throws {
        let notification = Samples.notification()
        let keys = try Samples.directory.encryptionKeys(for: [CenterID("GE")!, CenterID("UA")!], trust: Samples.trust)
        XCTAssertThrowsError(try Envelope.seal(notification, signer: Samples.keys("AZ").signingKey, recipientKeys: keys)) { error in
            XCTAssertTrue("\(error)".contains("MD"), "\(error)")
        }
    }

    func testASignatureByAnotherCenterIsRefused() throws {
        // GE signs an envelope that claims AZ as its sender.
        let notification = Samples.notification(from: "AZ")
        let keys = try Samples.directory.encryptionKeys(for: notification.recipients, trust: Samples.trust)
        // Version 2 names no key: AZ's one certificate does not verify it, and which is
        // wrong (the bytes, or the folder) cannot be told.
        let forged = try Envelope.seal(notification, signer: Samples.keys("GE").signingKey, recipientKeys: keys, namesSigner: false)
        XCTAssertThrowsError(try Samples.verifier.verify(try Envelope(parsing: forged.bytes))) { error in
            guard case EnvelopeError.noSignerCertificate(let center, known: 1) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(center.rawValue, "AZ")
        }
        // Version 3 names GE's key, for which AZ has no certificate: said so, not "altered".
        let named = try Envelope.seal(notification, signer: Samples.keys("GE").signingKey, recipientKeys: keys)
        XCTAssertEqual(named.version, 3)
        XCTAssertThrowsError(try Samples.verifier.verify(try Envelope(parsing: named.bytes))) { error in
            guard case EnvelopeError.unknownSigningKey(let center, let key) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(center.rawValue, "AZ")
            XCTAssertEqual(key, Samples.keys("GE").signingKey.publicKey.identity)
        }
        // Version 3 naming AZ's key but signed by GE's: the signature does not verify.
        let genuine = try Envelope.seal(notification, signer: Samples.keys("AZ").signingKey, recipientKeys: keys)
        var bytes = genuine.bytes
        bytes.replaceSubrange((bytes.count - 64)..., with: Samples.keys("GE").signingKey.signature(for: genuine.signedMessage))
        XCTAssertThrowsError(try Samples.verifier.verify(try Envelope(parsing: bytes))) { error in
            guard case EnvelopeError.badSignature = error else { return XCTFail("got \(error)") }
        }
    }

    /// The key identity a version 3 envelope names is what openssl computes from the
    /// signing certificate: SHA-256 of its DER SubjectPublicKeyInfo.
    func testTheNamedSignerIsTheCertificatesKeyIdentityAsOpenSSLComputesIt() throws {
        let certificate = Samples.pki.centerDirectory("AZ") + "/signing.crt"
        let spki = try ProcessRunner.run("/bin/sh", ["-c", "openssl x509 -in '\(certificate)' -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum"], timeout: 30)
        let expected = String(spki.stdout.prefix(64))
        let envelope = try Samples.sealed()
        XCTAssertEqual(envelope.version, 3)
        XCTAssertEqual(envelope.header.signer?.hexString, expected)
        XCTAssertEqual(try Certificate(pemFile: certificate).publicKeyIdentity.hexString, expected)
        XCTAssertEqual(try Samples.verifier.verify(envelope).senderCertificate.publicKeyIdentity.hexString, expected)
    }

    func testEachSealUsesAFreshContentKeyAndNonce() throws {
        let a = try Samples.sealed(), b = try Samples.sealed()
        XCTAssertNotEqual(a.header.nonce, b.header.nonce)
        XCTAssertNotEqual(a.header.sealedKeys[CenterID("GE")!], b.header.sealedKeys[CenterID("GE")!])
    }

    func testReceiptsRoundTripAndVerify() throws {
        let envelope = try Samples.sealed()
        let ge = Samples.keys("GE")
        let receipt = Envelope.receipt(for: envelope, from: ge.center, signer: ge.signingKey, outcome: .delivered, logIndex: 41)
        let parsed = try Envelope(parsing: receipt.bytes)
        XCTAssertEqual(parsed.header.kind, .receipt)
        XCTAssertEqual(parsed.header.recipients.map(\.rawValue), ["AZ"])
        XCTAssertEqual(parsed.header.receipt?.envelopeID, envelope.id)
        XCTAssertEqual(parsed.header.receipt?.envelopeSHA256, envelope.sha256)
        XCTAssertEqual(parsed.header.receipt?.logIndex, 41)
        XCTAssertNoThrow(try Samples.verifier.verify(parsed))

        let refusal = Envelope.receipt(for: envelope, from: ge.center, signer: ge.signingKey, outcome: .refused,
                                       reason: .clockSkew, detail: "created 2 h ahead\u{1B}[31m of our clock")
        let refusalParsed = try Envelope(parsing: refusal.bytes)
        XCTAssertEqual(refusalParsed.header.receipt?.reason, .clockSkew)
        XCTAssertEqual(refusalParsed.header.receipt?.detail, "created 2 h ahead[31m of our clock", "control characters are stripped")
        XCTAssertNoThrow(try Samples.verifier.verify(refusalParsed))
        XCTAssertThrowsError(try Samples.verifier.verify(refusalParsed).open(as: ge.center, with: ge.encryptionKey)) { error in
            guard case EnvelopeError.wrongKind = error else { return XCTFail("got \(error)") }
        }
    }

    /// A batch of delivery receipts under one signature: every envelope named with its
    /// digest and index, and the signature covers each of them (any receipt changed,
    /// dropped or added breaks it).
    func testReceiptBatchesRoundTripAndOneSignatureCoversEveryReceipt() throws {
        let envelopes = try (0..<3).map { _ in try Samples.sealed() }
        let ge = Samples.keys("GE")
        let receipts = envelopes.enumerated().map { Receipt(envelopeID: $0.element.id, envelopeSHA256: $0.element.sha256,
                                                            outcome: .delivered, logIndex: UInt64(40 + $0.offset)) }
        let batch = Envelope.receiptBatch(receipts, to: envelopes[0].header.sender, from: ge.center, signer: ge.signingKey)
        let parsed = try Envelope(parsing: batch.bytes)
        XCTAssertNil(parsed.header.receipt)
        XCTAssertEqual(parsed.header.receiptBatch, receipts)
        XCTAssertEqual(parsed.header.receipts.map(\.envelopeID), envelopes.map(\.id))
        XCTAssertEqual(parsed.header.receipts.map(\.logIndex), [40, 41, 42])
        XCTAssertEqual(parsed.version, 1, "a receipt carries no keys")
        XCTAssertNoThrow(try Samples.verifier.verify(parsed))

        // Another batch's receipts under this batch's signature: refused.
        var changed = receipts
        changed[2].logIndex = 99
        let other = Envelope.receiptBatch(changed, to: envelopes[0].header.sender, from: ge.center, signer: ge.signingKey, id: parsed.id,
                                          created: parsed.header.created)
        var forged = other.bytes
        forged.replaceSubrange((forged.count - Envelope.signatureByteCount)..., with: batch.bytes.suffix(Envelope.signatureByteCount))
        // A batch names no key (version 1): GE's one certificate does not verify it.
        XCTAssertThrowsError(try Samples.verifier.verify(try Envelope(parsing: forged))) { error in
            guard case EnvelopeError.noSignerCertificate(let center, known: 1) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(center.rawValue, "GE")
        }
    }

    /// An operator's acknowledgement: a receipt with outcome `acknowledged` and the log
    /// index of the recorded action; one without an index, or with a reason, is malformed.
    func testAcknowledgementsRoundTripAndAreStrict() throws {
        let envelope = try Samples.sealed()
        let ge = Samples.keys("GE")
        let ack = Envelope.receipt(for: envelope, from: ge.center, signer: ge.signingKey, outcome: .acknowledged, logIndex: 77)
        let parsed = try Envelope(parsing: ack.bytes)
        XCTAssertEqual(parsed.header.receipt?.outcome, .acknowledged)
        XCTAssertEqual(parsed.header.receipt?.logIndex, 77)
        XCTAssertEqual(parsed.header.receipt?.envelopeSHA256, envelope.sha256)
        XCTAssertNoThrow(try Samples.verifier.verify(parsed))

        for (logIndex, reason) in [(nil, nil), (UInt64(3), Receipt.RefusalReason.invalid)] as [(UInt64?, Receipt.RefusalReason?)] {
            let bad = Envelope.receipt(for: envelope, from: ge.center, signer: ge.signingKey, outcome: .acknowledged,
                                       logIndex: logIndex, reason: reason)
            XCTAssertThrowsError(try Envelope(parsing: bad.bytes)) { error in
                guard case EnvelopeError.malformedHeader(let why) = error else { return XCTFail("got \(error)") }
                XCTAssertTrue(why.contains("acknowledged"), why)
            }
        }
    }

    /// An audit checks each envelope at its own time and remembers, per certificate, the
    /// span it verified in; a time outside that span is checked again, so neither a time
    /// before the certificate nor one past the CRL's next update slips through.
    func testPastTimesVerifyOnlyWhereTheChainWasValid() throws {
        let verifier = EnvelopeVerifier(trust: Samples.trust, certificates: Samples.directory)
        let certificate = try Certificate(pemFile: Samples.pki.centerDirectory("AZ") + "/signing.crt")
        let notification = Samples.notification()
        let keys = try Samples.directory.encryptionKeys(for: notification.recipients, trust: Samples.trust)
        func sealed(at time: Date) throws -> Envelope {
            try Envelope.seal(notification, signer: Samples.keys("AZ").signingKey, recipientKeys: keys, created: time)
        }
        // The CRL is the chain's latest start: from its lastUpdate (openssl prints it) on.
        let crl = try ProcessRunner.run("/usr/bin/env", ["openssl", "crl", "-in", Samples.pki.crlFile, "-noout", "-lastupdate"], timeout: 30)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy zzz"
        let printed = crl.stdout.replacingOccurrences(of: "lastUpdate=", with: "").split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let crlStart = try XCTUnwrap(formatter.date(from: printed), "lastUpdate in \(crl.stdout)")
        let inside = max(certificate.notBefore, crlStart).addingTimeInterval(1)
        XCTAssertNoThrow(try verifier.verify(try sealed(at: inside), atSigningTime: true))
        XCTAssertNoThrow(try verifier.verify(try sealed(at: inside.addingTimeInterval(0.5)), atSigningTime: true), "inside the span")
        for outside in [certificate.notBefore.addingTimeInterval(-3600), Date().addingTimeInterval(40 * 86400)] {
            XCTAssertThrowsError(try verifier.verify(try sealed(at: outside), atSigningTime: true), "\(outside)") { error in
                guard case EnvelopeError.untrustedSender = error else { return XCTFail("got \(error)") }
            }
        }
        // The span covers the certificate, not the envelope: a bad signature still fails.
        var bytes = try sealed(at: inside).bytes
        bytes[bytes.count - 1] ^= 1
        XCTAssertThrowsError(try verifier.verify(try Envelope(parsing: bytes), atSigningTime: true)) { error in
            guard case EnvelopeError.badSignature = error else { return XCTFail("got \(error)") }
        }
    }
}
