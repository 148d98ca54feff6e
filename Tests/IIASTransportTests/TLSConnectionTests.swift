import COpenSSL
import IIASCrypto
@testable import IIASTransport
import IIASTestSupport
import XCTest

/// Mutual TLS 1.3 between two OpenSSL engines over memory BIOs, with the real test PKI.
final class TLSConnectionTests: XCTestCase {
    let pki = TestPKI.shared

    func context(_ dir: String, crl: Bool = true) throws -> OpenSSLContext {
        try OpenSSLContext(certificateFile: "\(dir)/tls.crt", privateKeyFile: "\(dir)/tls.key",
                           caFile: pki.caFile, crlFile: crl ? pki.crlFile : nil)
    }

    /// Pumps ciphertext both ways until both handshakes finish or one throws.
    func handshake(_ client: TLSConnection, _ server: TLSConnection) throws {
        var clientDone = false, serverDone = false
        for _ in 0..<20 where !(clientDone && serverDone) {
            if !clientDone { clientDone = try client.handshake() == .done }
            server.receive(client.takeOutbound())
            if !serverDone { serverDone = try server.handshake() == .done }
            client.receive(server.takeOutbound())
        }
        if !clientDone { clientDone = try client.handshake() == .done }
        XCTAssertTrue(clientDone && serverDone)
    }

    func testTwoCentersHandshakeTLS13AndExchangeFramesByteExact() throws {
        let client = try TLSConnection(context: context(pki.centerDirectory("AZ")), isServer: false)
        let server = try TLSConnection(context: context(pki.centerDirectory("GE")), isServer: true)
        try handshake(client, server)
        XCTAssertEqual(client.protocolVersion, "TLSv1.3")
        let trust = try TrustAnchor(caFile: pki.caFile, crlFile: pki.crlFile)
        XCTAssertEqual(try client.verifiedPeer(trust: trust, allowed: ["GE"]).centerID, "GE")
        XCTAssertEqual(try server.verifiedPeer(trust: trust, allowed: ["AZ", "UA"]).centerID, "AZ")
        XCTAssertThrowsError(try client.verifiedPeer(trust: trust, allowed: ["UA"])) {
            XCTAssertEqual($0 as? TLSError, .unexpectedPeer("GE"))
        }

        let codec = FrameCodec()
        var sent: [Frame] = []
        for size in [0, 1, 1000, 16_000, 70_000] {
            let frame = Frame.envelope((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            sent.append(frame)
            try client.write(try codec.encode(frame))
        }
        server.receive(client.takeOutbound())
        var plain: [UInt8] = []
        while case let chunk = try server.read(), !chunk.isEmpty { plain += chunk }
        var received: [Frame] = []
        while let (frame, used) = try codec.decode(plain) { received.append(frame); plain.removeFirst(used) }
        XCTAssertEqual(received, sent)
    }

    func refusal(_ clientDir: String) throws -> Error? {
        let client = try TLSConnection(context: context(clientDir, crl: false), isServer: false)
        let server = try TLSConnection(context: context(pki.centerDirectory("GE")), isServer: true)
        do { try handshake(client, server) } catch { return error }
        return nil
    }

    func testForeignExpiredAndRevokedClientsAreRefusedWithAReason() throws {
        let cases = [
            (pki.foreignCenterDirectory("AZ"), "unable to get local issuer certificate"),
            (pki.centerDirectory("EX"), "certificate has expired"),
            (pki.centerDirectory("RV"), "certificate revoked"),
        ]
        for (dir, reason) in cases {
            XCTAssertEqual(try refusal(dir) as? TLSError, .peerCertificateRejected(reason), dir)
        }
    }

    func testMissingKeyFileIsATypedErrorWithOpenSSLReasons() {
        XCTAssertThrowsError(try OpenSSLContext(certificateFile: "/nonexistent.crt", privateKeyFile: "/nonexistent.key",
                                                caFile: pki.caFile, crlFile: nil)) {
            guard case .openSSL(let operation, let reasons)? = $0 as? TLSError else { return XCTFail("\($0)") }
            XCTAssertEqual(operation, "use_certificate_chain_file")
            XCTAssertFalse(reasons.isEmpty)
        }
    }

    /// A client that trusts the CA but presents no certificate, optionally capped at TLS 1.2.
    func weakClient(maxVersion: Int32?) throws -> TLSConnection {
        let raw = try XCTUnwrap(SSL_CTX_new(TLS_method()))
        if let maxVersion { XCTAssertEqual(iias_SSL_CTX_set_max_proto_version(raw, maxVersion), 1) }
        XCTAssertEqual(SSL_CTX_load_verify_locations(raw, pki.caFile, nil), 1)
        return try TLSConnection(context: OpenSSLContext(owning: raw), isServer: false)
    }

    func testAClientWithoutACertificateIsRefused() throws {
        let server = try TLSConnection(context: context(pki.centerDirectory("GE")), isServer: true)
        XCTAssertThrowsError(try handshake(weakClient(maxVersion: nil), server)) {
            guard case .openSSL(_, let reasons)? = $0 as? TLSError else { return XCTFail("\($0)") }
            XCTAssertTrue(reasons.contains { $0.contains("peer did not return a certificate") }, "\(reasons)")
        }
    }

    func testATLS12ClientIsRefused() throws {
        let server = try TLSConnection(context: context(pki.centerDirectory("GE")), isServer: true)
        XCTAssertThrowsError(try handshake(weakClient(maxVersion: TLS1_2_VERSION), server)) {
            guard case .openSSL(_, let reasons)? = $0 as? TLSError else { return XCTFail("\($0)") }
            XCTAssertTrue(reasons.contains { $0.contains("unsupported protocol") }, "\(reasons)")
        }
    }
}
