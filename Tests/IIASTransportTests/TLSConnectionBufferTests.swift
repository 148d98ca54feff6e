import IIASTestSupport
@testable import IIASTransport
import NIOCore
import XCTest

/// The ByteBuffer paths of TLSConnection (what TLSHandler uses): no array copies, same bytes, bounded reads.
final class TLSConnectionBufferTests: XCTestCase {
    let pki = TestPKI.shared

    func testByteBufferPathsCarryEveryByteInRecordSizedReadsAndRefuseTamperedCiphertext() throws {
        let az = pki.centerDirectory("AZ"), ge = pki.centerDirectory("GE")
        let client = try TLSConnection(context: pki.tlsContext("AZ"), isServer: false)
        let server = try TLSConnection(context: pki.tlsContext("GE"), isServer: true)
        let allocator = ByteBufferAllocator()
        var clientDone = false, serverDone = false
        for _ in 0..<20 where !(clientDone && serverDone) {
            clientDone = try client.handshake() == .done
            server.receive(client.takeOutbound(allocator: allocator))
            serverDone = try server.handshake() == .done
            client.receive(server.takeOutbound(allocator: allocator))
        }
        XCTAssertTrue(clientDone && serverDone)

        let payload = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try client.write(allocator.buffer(bytes: payload))
        let ciphertext = client.takeOutbound(allocator: allocator)
        XCTAssertGreaterThan(ciphertext.readableBytes, payload.count)
        server.receive(ciphertext)
        var received = allocator.buffer(capacity: 0), reads = 0
        while true {
            let count = try server.read(into: &received)
            if count == 0 { break }
            XCTAssertLessThanOrEqual(count, 16384)
            reads += 1
        }
        XCTAssertEqual(Array(received.readableBytesView), payload)
        XCTAssertGreaterThanOrEqual(reads, payload.count / 16384)
        XCTAssertEqual(client.takeOutbound(allocator: allocator).readableBytes, 0)

        // One flipped ciphertext bit: a typed OpenSSL failure, nothing delivered.
        try client.write(allocator.buffer(bytes: [1, 2, 3]))
        var tampered = client.takeOutbound(allocator: allocator)
        let last = tampered.writerIndex - 1
        tampered.setInteger(tampered.getInteger(at: last, as: UInt8.self)! ^ 0x01, at: last)
        server.receive(tampered)
        var sink = allocator.buffer(capacity: 0)
        XCTAssertThrowsError(try server.read(into: &sink)) {
            guard case .openSSL? = $0 as? TLSError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(sink.readableBytes, 0)
    }
}
