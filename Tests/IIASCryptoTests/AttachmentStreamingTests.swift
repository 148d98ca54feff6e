import Foundation
import XCTest
@testable import IIASCrypto

/// Streaming through real files and pipes: memory stays flat whatever the size, sizes
/// around chunk boundaries round-trip, chunks open alone from their offsets, and every
/// size is bounded before anything is allocated.
final class AttachmentStreamingTests: XCTestCase {
    private var scratch: ScratchFiles!

    override func setUpWithError() throws { scratch = try ScratchFiles() }
    override func tearDown() { scratch.cleanUp() }

    /// Resident memory of this process now: /proc/self/statm on Linux (a high-water mark
    /// would hide growth below the test runner's own earlier peak), getrusage's peak elsewhere.
    private func residentBytes() -> Int {
        #if os(Linux)
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * sysconf(Int32(_SC_PAGESIZE))
        #else
        var usage = rusage()
        getrusage(RUSAGE_SELF, &usage)
        return usage.ru_maxrss
        #endif
    }

    func testA64MiBFileStreamsWithFlatMemory() throws {
        let size = 64 << 20, chunkSize = AttachmentSeal.defaultChunkSize
        let input = scratch.directory.appendingPathComponent("large")
        FileManager.default.createFile(atPath: input.path, contents: nil)
        let writer = try FileHandle(forWritingTo: input)
        let pattern = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 11) })
        for _ in 0..<(size >> 20) { writer.write(pattern) }
        try writer.close()

        let before = residentBytes()
        var peak = before
        var pieces = 0
        func sample() {
            pieces += 1
            if pieces % 32 == 0 { peak = max(peak, residentBytes()) }
        }
        let encrypted = scratch.directory.appendingPathComponent("large.iias")
        FileManager.default.createFile(atPath: encrypted.path, contents: nil)
        let output = try FileHandle(forWritingTo: encrypted)
        let reader = try FileHandle(forReadingFrom: input)
        var largestPiece = 0, written = 0
        let writeAll = output.attachmentSink
        let seal = try AttachmentEncryptor().encrypt(reading: reader) { piece in
            sample()
            largestPiece = max(largestPiece, piece.count)
            written += piece.count
            try writeAll(piece)
        }
        try reader.close()
        try output.close()
        XCTAssertEqual(seal.plaintextSize, size)
        XCTAssertEqual(seal.chunkCount, size / chunkSize)
        XCTAssertEqual(written, seal.ciphertextSize)
        XCTAssertEqual(largestPiece, chunkSize + 16, "the sink never sees more than one chunk at a time")

        var decryptedPieces = 0, decryptedBytes = 0
        let ciphertext = try FileHandle(forReadingFrom: encrypted)
        try AttachmentDecryptor(seal: seal).decrypt(reading: ciphertext) { piece in
            sample()
            XCTAssertLessThanOrEqual(piece.count, chunkSize)
            decryptedPieces += 1
            decryptedBytes += piece.count
        }
        try ciphertext.close()
        XCTAssertEqual(decryptedPieces, seal.chunkCount)
        XCTAssertEqual(decryptedBytes, size)
        let growth = max(peak, residentBytes()) - before
        XCTAssertLessThan(growth, 32 << 20, "resident memory grew by \(growth >> 20) MiB while streaming 64 MiB twice")
    }

    func testSizesAroundChunkBoundariesRoundTripThroughAPipe() throws {
        let chunkSize = 4096
        for size in [0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3 * chunkSize, 3 * chunkSize + 17] {
            let plaintext = Sodium.randomBytes(size)
            // A pipe fed in odd-sized pieces: reads come back short and must be refilled.
            let pipe = Pipe()
            let feeder = Thread {
                var offset = 0
                while offset < plaintext.count {
                    let end = min(plaintext.count, offset + 777)
                    pipe.fileHandleForWriting.write(Data(plaintext[offset..<end]))
                    offset = end
                }
                try? pipe.fileHandleForWriting.close()
            }
            feeder.start()
            var ciphertext: [UInt8] = []
            let seal = try AttachmentEncryptor(chunkSize: chunkSize).encrypt(reading: pipe.fileHandleForReading) {
                ciphertext.append(contentsOf: $0)
            }
            XCTAssertEqual(seal.plaintextSize, size)
            XCTAssertEqual(seal.chunkCount, max(1, (size + chunkSize - 1) / chunkSize), "size \(size)")
            XCTAssertEqual(ciphertext.count, seal.ciphertextSize, "size \(size)")
            XCTAssertEqual(seal.plaintextSHA256, SHA256.hash(plaintext))
            let file = try scratch.write(ciphertext, named: "c\(size)")
            XCTAssertEqual(try AttachmentDecryptor(seal: seal).decrypt(file: file), plaintext, "size \(size)")
        }
    }

    /// Resuming: chunk i is read from its offset in the stored ciphertext and opened alone.
    func testAnyChunkOpensFromItsOffsetInTheFile() throws {
        let plaintext = Sodium.randomBytes(10 * 1024 + 300)
        let input = try scratch.write(plaintext, named: "plain")
        let reader = try FileHandle(forReadingFrom: input)
        defer { try? reader.close() }
        var ciphertext: [UInt8] = []
        let seal = try AttachmentEncryptor(chunkSize: 1024).encrypt(reading: reader) { ciphertext.append(contentsOf: $0) }
        let stored = try FileHandle(forReadingFrom: try scratch.write(ciphertext, named: "stored"))
        defer { try? stored.close() }
        let decryptor = try AttachmentDecryptor(seal: seal)
        for index in [7, 0, 10, 3] {
            let range = try seal.ciphertextRange(ofChunk: index)
            try stored.seek(toOffset: UInt64(range.lowerBound))
            let chunk = try XCTUnwrap(try stored.read(upToCount: range.count))
            let start = index * 1024
            XCTAssertEqual(try decryptor.openChunk(index, ciphertext: [UInt8](chunk)),
                           Array(plaintext[start..<min(plaintext.count, start + 1024)]), "chunk \(index)")
        }
    }

    func testChunkSizesOutsideTheLimitsAreRefused() {
        for size in [0, 512, 1000, 1023, 3072, 65_537, 2 << 20, -1024] {
            XCTAssertEqual(attachmentError("chunk size \(size)") { _ = try AttachmentEncryptor(chunkSize: size) },
                           .chunkSizeOutOfRange(size))
        }
        for size in [1024, 65_536, 1 << 20] { XCTAssertNoThrow(try AttachmentEncryptor(chunkSize: size)) }
    }

    func testSealFieldsAreBoundedBeforeUse() {
        func seal(key: Int = 32, nonce: Int = 16, chunkSize: Int = 1024, size: Int = 0, digest: Int = 32, root: Int = 32) throws {
            _ = try AttachmentSeal(fileKey: [UInt8](repeating: 1, count: key).withUnsafeBytes { SecretBytes(copying: $0) },
                                   nonce: [UInt8](repeating: 0, count: nonce), chunkSize: chunkSize, plaintextSize: size,
                                   plaintextSHA256: [UInt8](repeating: 0, count: digest), root: [UInt8](repeating: 0, count: root))
        }
        XCTAssertNoThrow(try seal())
        XCTAssertEqual(attachmentError("16-byte key") { try seal(key: 16) }, .invalidSeal("the file key must be 32 bytes"))
        XCTAssertEqual(attachmentError("12-byte nonce") { try seal(nonce: 12) }, .invalidSeal("the nonce must be 16 bytes"))
        XCTAssertEqual(attachmentError("chunk size 1000") { try seal(chunkSize: 1000) }, .chunkSizeOutOfRange(1000))
        XCTAssertEqual(attachmentError("negative size") { try seal(size: -1) }, .invalidSeal("the size is negative"))
        XCTAssertEqual(attachmentError("too large") { try seal(size: AttachmentSeal.maximumPlaintextSize + 1) },
                       .tooLarge(size: AttachmentSeal.maximumPlaintextSize + 1, limit: AttachmentSeal.maximumPlaintextSize))
        XCTAssertEqual(attachmentError("short digest") { try seal(digest: 31) }, .invalidSeal("the SHA-256 must be 32 bytes"))
        XCTAssertEqual(attachmentError("long root") { try seal(root: 33) }, .invalidSeal("the root must be 32 bytes"))
        // The largest seal allowed has at most 2^26 chunks, so a list of their hashes stays bounded.
        XCTAssertEqual(AttachmentSeal.maximumPlaintextSize / AttachmentSeal.chunkSizeRange.lowerBound, 1 << 26)
    }
}
