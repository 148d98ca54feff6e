import Foundation
import XCTest
@testable import IIASCrypto

/// Every way of altering an attachment's ciphertext — a flipped byte in each chunk, a
/// chunk dropped, duplicated, moved, the ciphertext cut or extended — is refused with the
/// error that names it, with and without a stored list of chunk hashes.
final class AttachmentTamperingTests: XCTestCase {
    /// Four full chunks of 1 KiB (the last one full too), so every chunk has one length.
    private static let chunkSize = 1024, chunkCount = 4
    private var scratch: ScratchFiles!
    private var seal: AttachmentSeal!
    private var ciphertext: [UInt8] = []
    private var plaintext: [UInt8] = []

    override func setUpWithError() throws {
        scratch = try ScratchFiles()
        plaintext = (0..<(Self.chunkSize * Self.chunkCount)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
        let input = try scratch.write(plaintext, named: "plain")
        let key = [UInt8](repeating: 0x42, count: 32).withUnsafeBytes { SecretBytes(copying: $0) }
        (seal, ciphertext) = try AttachmentEncryptor(chunkSize: Self.chunkSize)
            .encrypt(file: input, fileKey: key, nonce: [UInt8](repeating: 0x24, count: 16))
    }

    override func tearDown() { scratch.cleanUp() }

    private func chunk(_ index: Int) -> [UInt8] { Array(ciphertext[try! seal.ciphertextRange(ofChunk: index)]) }
    private var chunks: [[UInt8]] { (0..<Self.chunkCount).map(chunk) }
    private var chunkHashes: [[UInt8]] { chunks.map(AttachmentSeal.chunkHash) }
    private func assemble(_ parts: [[UInt8]]) -> [UInt8] { seal.nonce + parts.joined() }

    /// The error streaming decryption gives, without and with the stored list of chunk hashes.
    private func refusals(_ bytes: [UInt8], _ what: String, line: UInt = #line) throws -> (plain: AttachmentError?, listed: AttachmentError?) {
        let file = try scratch.write(bytes, named: "tampered")
        let plain = attachmentError(what, line: line) { _ = try AttachmentDecryptor(seal: seal).decrypt(file: file) }
        let listed = attachmentError("\(what), with the list", line: line) {
            _ = try AttachmentDecryptor(seal: seal, chunkHashes: chunkHashes).decrypt(file: file)
        }
        return (plain, listed)
    }

    func testUntouchedCiphertextOpens() throws {
        let file = try scratch.write(ciphertext, named: "good")
        XCTAssertEqual(try AttachmentDecryptor(seal: seal).decrypt(file: file), plaintext)
    }

    func testAFlippedByteInEveryChunkIsRefusedAtThatChunk() throws {
        for index in 0..<Self.chunkCount {
            for offset in [0, Self.chunkSize / 2, Self.chunkSize + 15] {  // start, middle, tag
                var bytes = ciphertext
                bytes[try seal.ciphertextRange(ofChunk: index).lowerBound + offset] ^= 0x80
                let (plain, listed) = try refusals(bytes, "chunk \(index) byte \(offset) flipped")
                XCTAssertEqual(plain, .chunkNotAuthentic(index: index))
                XCTAssertEqual(listed, .chunkNotCommitted(index: index))
            }
        }
    }

    func testAFlippedNonceIsRefused() throws {
        var bytes = ciphertext
        bytes[3] ^= 0x01
        let (plain, listed) = try refusals(bytes, "nonce flipped")
        XCTAssertEqual(plain, .nonceMismatch)
        XCTAssertEqual(listed, .nonceMismatch)
    }

    func testEveryDroppedChunkIsRefused() throws {
        for index in 0..<Self.chunkCount {
            var parts = chunks
            parts.remove(at: index)
            let (plain, listed) = try refusals(assemble(parts), "chunk \(index) dropped")
            if index == Self.chunkCount - 1 {
                let cut = ciphertext.count - chunk(index).count
                XCTAssertEqual(plain, .truncated(received: cut, expected: ciphertext.count))
                XCTAssertEqual(listed, .truncated(received: cut, expected: ciphertext.count))
            } else {  // the next chunk now sits at this position
                XCTAssertEqual(plain, .chunkNotAuthentic(index: index))
                XCTAssertEqual(listed, .chunkNotCommitted(index: index))
            }
        }
    }

    func testEveryDuplicatedChunkIsRefused() throws {
        for index in 0..<Self.chunkCount {
            var parts = chunks
            parts.insert(chunk(index), at: index + 1)
            let (plain, listed) = try refusals(assemble(parts), "chunk \(index) duplicated")
            if index == Self.chunkCount - 1 {  // every chunk in place, then a copy of the last
                XCTAssertEqual(plain, .trailingBytes(expected: ciphertext.count))
                XCTAssertEqual(listed, .trailingBytes(expected: ciphertext.count))
            } else {
                XCTAssertEqual(plain, .chunkNotAuthentic(index: index + 1))
                XCTAssertEqual(listed, .chunkNotCommitted(index: index + 1))
            }
        }
    }

    func testEverySwapOfTwoChunksIsRefusedAtTheFirst() throws {
        for first in 0..<Self.chunkCount {
            for second in (first + 1)..<Self.chunkCount {
                var parts = chunks
                parts.swapAt(first, second)
                let (plain, listed) = try refusals(assemble(parts), "chunks \(first) and \(second) swapped")
                XCTAssertEqual(plain, .chunkNotAuthentic(index: first))
                XCTAssertEqual(listed, .chunkNotCommitted(index: first))
            }
        }
    }

    func testACutAnywhereIsRefusedAsTruncated() throws {
        let boundaries = (0..<Self.chunkCount).map { try! seal.ciphertextRange(ofChunk: $0).lowerBound }
        let cuts = Set([0, 1, 15, 16, 17] + boundaries + boundaries.map { $0 + 1 } + [ciphertext.count - 1])
        for cut in cuts.sorted() {
            let (plain, listed) = try refusals(Array(ciphertext.prefix(cut)), "cut at \(cut)")
            XCTAssertEqual(plain, .truncated(received: cut, expected: ciphertext.count))
            XCTAssertEqual(listed, .truncated(received: cut, expected: ciphertext.count))
        }
    }

    func testExtensionIsRefused() throws {
        for extra in [[0x00], chunk(0), Array(repeating: 0xFF, count: 5000)] as [[UInt8]] {
            let (plain, listed) = try refusals(ciphertext + extra, "\(extra.count) bytes appended")
            XCTAssertEqual(plain, .trailingBytes(expected: ciphertext.count))
            XCTAssertEqual(listed, .trailingBytes(expected: ciphertext.count))
        }
    }

    /// The last-chunk flag is in the nonce: a chunk opens only with the flag it was sealed
    /// with, so a cut at a chunk boundary cannot pass off the new end as the last chunk.
    func testTheLastChunkFlagBindsTheEnd() throws {
        let cipher = AttachmentCipher(fileKey: [UInt8](repeating: 0x42, count: 32).withUnsafeBytes { SecretBytes(copying: $0) },
                                      nonce: seal.nonce)
        var out = [UInt8](repeating: 0, count: Self.chunkSize)
        let last = Self.chunkCount - 1
        out.withUnsafeMutableBytes { out in
            chunk(last).withUnsafeBytes { XCTAssertTrue(cipher.open($0, index: last, isLast: true, into: out)) }
            chunk(last).withUnsafeBytes { XCTAssertFalse(cipher.open($0, index: last, isLast: false, into: out)) }
            chunk(1).withUnsafeBytes { XCTAssertFalse(cipher.open($0, index: 1, isLast: true, into: out)) }
        }
        // openChunk: a middle chunk presented as the last one.
        let decryptor = try AttachmentDecryptor(seal: seal)
        XCTAssertEqual(attachmentError("chunk 2 as chunk 3") { _ = try decryptor.openChunk(last, ciphertext: chunk(2)) },
                       .chunkNotAuthentic(index: last))
    }

    func testOpenChunkChecksIndexLengthAndProof() throws {
        let decryptor = try AttachmentDecryptor(seal: seal)
        let proof1 = MerkleTreeHash.inclusionProof(leafIndex: 1, leafHashes: chunkHashes)
        XCTAssertEqual(try decryptor.openChunk(1, ciphertext: chunk(1), inclusionProof: proof1),
                       Array(plaintext[Self.chunkSize..<(2 * Self.chunkSize)]))
        XCTAssertEqual(attachmentError("chunk 2 with chunk 1's proof") { _ = try decryptor.openChunk(2, ciphertext: chunk(2), inclusionProof: proof1) },
                       .chunkNotCommitted(index: 2))
        var flipped = chunk(1)
        flipped[9] ^= 0x04
        XCTAssertEqual(attachmentError("flipped chunk with its proof") { _ = try decryptor.openChunk(1, ciphertext: flipped, inclusionProof: proof1) },
                       .chunkNotCommitted(index: 1))
        XCTAssertEqual(attachmentError("flipped chunk without proof") { _ = try decryptor.openChunk(1, ciphertext: flipped) },
                       .chunkNotAuthentic(index: 1))
        XCTAssertEqual(attachmentError("short chunk") { _ = try decryptor.openChunk(1, ciphertext: Array(chunk(1).dropLast())) },
                       .chunkLengthMismatch(index: 1, length: Self.chunkSize + 15, expected: Self.chunkSize + 16))
        for index in [-1, Self.chunkCount] {
            XCTAssertEqual(attachmentError("chunk \(index)") { _ = try decryptor.openChunk(index, ciphertext: chunk(0)) },
                           .chunkIndexOutOfRange(index: index, chunkCount: Self.chunkCount))
        }
        XCTAssertFalse(seal.isCommitted(chunk: chunk(1), index: 5, proof: proof1))
    }

    func testTheWrongKeyIsRefusedAtTheFirstChunk() throws {
        let other = try AttachmentSeal(fileKey: [UInt8](repeating: 0x43, count: 32).withUnsafeBytes { SecretBytes(copying: $0) },
                                       nonce: seal.nonce, chunkSize: seal.chunkSize, plaintextSize: seal.plaintextSize,
                                       plaintextSHA256: seal.plaintextSHA256, root: seal.root)
        let file = try scratch.write(ciphertext, named: "good")
        XCTAssertEqual(attachmentError("wrong key") { _ = try AttachmentDecryptor(seal: other).decrypt(file: file) },
                       .chunkNotAuthentic(index: 0))
    }

    /// A seal whose root or digest does not match what decrypts (a sender's mistake, or
    /// a seal from another file with the same key) is refused after the last chunk.
    func testASealWithAnotherRootOrDigestIsRefused() throws {
        let file = try scratch.write(ciphertext, named: "good")
        var root = seal.root, digest = seal.plaintextSHA256
        root[0] ^= 1
        digest[31] ^= 1
        for (altered, expected) in [(try resealed(root: root), AttachmentError.commitmentMismatch),
                                    (try resealed(digest: digest), .digestMismatch)] {
            XCTAssertEqual(attachmentError("\(expected)") { _ = try AttachmentDecryptor(seal: altered).decrypt(file: file) }, expected)
        }
        XCTAssertEqual(attachmentError("list against another root") { _ = try AttachmentDecryptor(seal: try resealed(root: root), chunkHashes: chunkHashes) },
                       .commitmentMismatch)
        XCTAssertEqual(attachmentError("short list") { _ = try AttachmentDecryptor(seal: seal, chunkHashes: Array(chunkHashes.dropLast())) },
                       .invalidSeal("the list has 3 chunk hashes; the seal has 4 chunks"))
    }

    private func resealed(root: [UInt8]? = nil, digest: [UInt8]? = nil) throws -> AttachmentSeal {
        try AttachmentSeal(fileKey: seal.fileKey, nonce: seal.nonce, chunkSize: seal.chunkSize, plaintextSize: seal.plaintextSize,
                           plaintextSHA256: digest ?? seal.plaintextSHA256, root: root ?? seal.root)
    }
}
