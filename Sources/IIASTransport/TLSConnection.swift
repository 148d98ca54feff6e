import COpenSSL
import IIASCrypto
import NIOCore

/// One TLS connection over two memory BIOs: ciphertext in through `receive`, out through `takeOutbound`.
///
/// Why: the NIO handler owns the socket; OpenSSL only ever sees memory, so it never blocks
/// and backpressure stays with the event loop.
package final class TLSConnection {
    let ssl: OpaquePointer
    let networkIn: OpaquePointer   // we write received ciphertext here; SSL reads it
    let networkOut: OpaquePointer  // SSL writes ciphertext here; we read and send it

    package enum Progress: Equatable { case done, wantsMoreInput }

    package init(context: OpenSSLContext, isServer: Bool) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw openSSLFailure("SSL_new") }
        guard let inBIO = BIO_new(BIO_s_mem()), let outBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl); throw openSSLFailure("BIO_new")
        }
        SSL_set_bio(ssl, inBIO, outBIO)
        if isServer { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.ssl = ssl; networkIn = inBIO; networkOut = outBIO
    }

    deinit { SSL_free(ssl) }

    package func receive(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = BIO_write(networkIn, $0.baseAddress, Int32($0.count)) }
    }

    /// Feeds received ciphertext straight from NIO's buffer (no intermediate array).
    package func receive(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { _ = BIO_write(networkIn, $0.baseAddress, Int32($0.count)) }
    }

    /// The ciphertext OpenSSL produced, read straight into one buffer from `allocator`; empty if none.
    package func takeOutbound(allocator: ByteBufferAllocator) -> ByteBuffer {
        let pending = Int(BIO_ctrl_pending(networkOut))
        var out = allocator.buffer(capacity: pending)
        guard pending > 0 else { return out }
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { Int(max(0, BIO_read(networkOut, $0.baseAddress, Int32(pending)))) }
        return out
    }

    package func takeOutbound() -> [UInt8] {
        let pending = Int(BIO_ctrl_pending(networkOut))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let read = out.withUnsafeMutableBytes { BIO_read(networkOut, $0.baseAddress, Int32(pending)) }
        return Array(out.prefix(max(0, Int(read))))
    }

    package func handshake() throws(TLSError) -> Progress {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return .wantsMoreInput }
        let verify = SSL_get_verify_result(ssl)
        if verify != Int(X509_V_OK) {
            _ = drainOpenSSLErrors()
            throw TLSError.peerCertificateRejected(String(cString: X509_verify_cert_error_string(verify)))
        }
        throw openSSLFailure("SSL_do_handshake")
    }

    /// The verified peer's certificate, parsed by IIASCrypto, after a completed handshake.
    func peerCertificate() throws(TLSError) -> Certificate {
        guard let x509 = SSL_get1_peer_certificate(ssl) else { throw TLSError.peerCertificateMissing }
        defer { X509_free(x509) }
        guard SSL_get_verify_result(ssl) == Int(X509_V_OK) else {
            throw TLSError.peerCertificateRejected(String(cString: X509_verify_cert_error_string(SSL_get_verify_result(ssl))))
        }
        guard let bio = BIO_new(BIO_s_mem()) else { throw openSSLFailure("BIO_new") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, x509) == 1 else { throw openSSLFailure("PEM_write_bio_X509") }
        var data: UnsafeMutablePointer<CChar>?
        let length = iias_BIO_get_mem_data(bio, &data)
        guard let data, length > 0 else { throw openSSLFailure("BIO_get_mem_data") }
        let pem = UnsafeRawBufferPointer(start: data, count: Int(length)).map { $0 }
        do { return try Certificate(pem: pem, source: "peer") } catch { throw TLSError.peerHasNoCenterID }
    }

    var protocolVersion: String { String(cString: SSL_get_version(ssl)) }
    var cipher: String { String(cString: SSL_CIPHER_get_name(SSL_get_current_cipher(ssl))) }

    package func write(_ bytes: [UInt8]) throws(TLSError) {
        ERR_clear_error()
        let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(bytes.count) else { throw openSSLFailure("SSL_write") }
    }

    /// Encrypts the buffer's readable bytes in place of an array copy.
    package func write(_ buffer: ByteBuffer) throws(TLSError) {
        ERR_clear_error()
        let count = buffer.readableBytes
        let written = buffer.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(count) else { throw openSSLFailure("SSL_write") }
    }

    /// Decrypts at most one record (≤ `max` bytes) straight into `buffer`; 0 when nothing whole is buffered.
    package func read(into buffer: inout ByteBuffer, max: Int = 16384) throws(TLSError) -> Int {
        ERR_clear_error()
        var read: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: max) { pointer in
            read = SSL_read(ssl, pointer.baseAddress, Int32(max))
            return read > 0 ? Int(read) : 0
        }
        if read > 0 { return Int(read) }
        let code = SSL_get_error(ssl, read)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_ZERO_RETURN { return 0 }
        throw openSSLFailure("SSL_read")
    }

    package func read(max: Int = 16384) throws(TLSError) -> [UInt8] {
        ERR_clear_error()
        var out = [UInt8](repeating: 0, count: max)
        let read = out.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32(max)) }
        if read > 0 { return Array(out.prefix(Int(read))) }
        let code = SSL_get_error(ssl, read)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_ZERO_RETURN { return [] }
        throw openSSLFailure("SSL_read")
    }
}
