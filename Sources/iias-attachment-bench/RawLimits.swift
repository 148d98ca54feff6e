import CSodium
import Foundation

/// What no attachment transfer on this machine can beat, measured on the same bytes in
/// the same run: the attachment cipher (ChaCha20-Poly1305, in 64 KiB chunks as the
/// encryptor's STREAM seals them) on one core, and the disk's sequential write made
/// durable (fsync) in the data directory's file system. With one TLS connection's bulk
/// rate (the transport bench), the slowest of them is the limit a transfer is set against.
enum RawLimits {
    /// MiB/s of ChaCha20-Poly1305 over `mebibytes` MiB in 64 KiB pieces, one thread, in memory.
    static func aead(mebibytes: Int) -> Double {
        let piece = 1 << 16
        var source = [UInt8](repeating: 0, count: 1 << 20)
        randombytes_buf(&source, source.count)
        var sealed = [UInt8](repeating: 0, count: piece + Int(crypto_aead_chacha20poly1305_ietf_ABYTES))
        let key = [UInt8](repeating: 1, count: 32)
        var nonce = [UInt8](repeating: 0, count: 12), sealedCount: UInt64 = 0
        return rate(mebibytes) {
            source.withUnsafeBufferPointer { plain in
                for index in 0..<(mebibytes * 16) {
                    nonce[0] = UInt8(truncatingIfNeeded: index)   // a nonce per chunk, as the STREAM's counter gives
                    _ = crypto_aead_chacha20poly1305_ietf_encrypt(&sealed, &sealedCount, plain.baseAddress! + (index % 16) * piece,
                                                                  UInt64(piece), nil, 0, nil, nonce, key)
                }
            }
        }
    }

    /// MiB/s of writing `mebibytes` MiB of random bytes to a new file in `directory`, 1 MiB
    /// at a time, then fsync: what the disk makes durable. The file is removed afterwards.
    static func durableWrite(mebibytes: Int, in directory: String) throws -> Double {
        let path = directory + "/disk-limit-\(getpid())"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd); unlink(path) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        randombytes_buf(&buffer, buffer.count)
        var failed = false
        let perSecond = rate(mebibytes) {
            for _ in 0..<mebibytes where !failed {
                failed = buffer.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } != buffer.count
            }
            failed = failed || fsync(fd) != 0
        }
        if failed { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return perSecond
    }

    /// MiB/s of `body` over `mebibytes` MiB.
    static func rate(_ mebibytes: Int, _ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(mebibytes) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
