import CSodium
import Foundation
import IIASCrypto

/// Attachment throughput in MiB/s: a file encrypted from and decrypted to real files (in
/// the page cache) with the default 64 KiB chunks, against raw ChaCha20-Poly1305 over the
/// same number of bytes in 64 KiB pieces — what the format adds is the file I/O, the
/// SHA-256 of the plaintext and the Merkle hashing of the ciphertext.
struct AttachmentThroughput {
    let mebibytes: Int
    let encrypt: Double, decrypt: Double, rawAEAD: Double

    init(mebibytes: Int) throws {
        self.mebibytes = mebibytes
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("iias-bench-attachment-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func file(_ name: String) -> URL {
            let url = directory.appendingPathComponent(name)
            FileManager.default.createFile(atPath: url.path, contents: nil)
            return url
        }
        let plain = file("plain"), sealed = file("sealed"), opened = file("opened")
        var mebibyte = [UInt8](repeating: 0, count: 1 << 20)
        randombytes_buf(&mebibyte, mebibyte.count)
        let writer = try FileHandle(forWritingTo: plain)
        for _ in 0..<mebibytes { writer.write(Data(mebibyte)) }
        try writer.close()

        func perSecond(_ body: () throws -> Void) rethrows -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(mebibytes) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let (input, output) = (try FileHandle(forReadingFrom: plain), try FileHandle(forWritingTo: sealed))
        var seal: AttachmentSeal?
        encrypt = try perSecond { seal = try AttachmentEncryptor().encrypt(reading: input, to: output.attachmentSink) }
        let (ciphertext, result) = (try FileHandle(forReadingFrom: sealed), try FileHandle(forWritingTo: opened))
        decrypt = try perSecond { try AttachmentDecryptor(seal: seal!).decrypt(reading: ciphertext, to: result.attachmentSink) }
        for handle in [input, output, ciphertext, result] { try handle.close() }

        let piece = 1 << 16, key = [UInt8](repeating: 7, count: 32), nonce = [UInt8](repeating: 0, count: 12)
        var out = [UInt8](repeating: 0, count: piece + 16)
        var outCount: UInt64 = 0
        rawAEAD = perSecond {
            for i in 0..<(mebibytes * 16) {
                mebibyte.withUnsafeBufferPointer { m in
                    _ = crypto_aead_chacha20poly1305_ietf_encrypt(&out, &outCount, m.baseAddress! + (i % 16) * piece, UInt64(piece),
                                                                  nil, 0, nil, nonce, key)
                }
            }
        }
    }

    func printRows() {
        print("\nattachment, \(mebibytes) MiB file in 64 KiB chunks, file to file (MiB/s, one thread)")
        for (name, value) in [("  encrypt (STREAM + SHA-256 + Merkle root)", encrypt),
                              ("  decrypt and verify every chunk", decrypt),
                              ("  raw ChaCha20-Poly1305 (same bytes, memory)", rawAEAD)] {
            print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%10.0f MiB/s", value))
        }
    }

    var json: [String: Any] {
        ["mebibytes": mebibytes, "encryptMiBPerSecond": encrypt, "decryptMiBPerSecond": decrypt, "rawAEADMiBPerSecond": rawAEAD]
    }
}
