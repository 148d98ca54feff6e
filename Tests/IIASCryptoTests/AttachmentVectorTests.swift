import Foundation
import IIASModel
import XCTest
@testable import IIASCrypto

/// The vectors of AttachmentFormat.md (`Fixtures/attachment/`): made from the spec by a
/// separate implementation, reproduced here byte for byte, and opened by the
/// independent Python decryptor beside them.
final class AttachmentVectorTests: XCTestCase {
    func testEncryptorReproducesEveryVectorByteForByte() throws {
        let scratch = try ScratchFiles()
        defer { scratch.cleanUp() }
        for name in AttachmentVector.names {
            let vector = try AttachmentVector.load(name)
            let input = try scratch.write(vector.plaintextBytes, named: name)
            let encryptor = try AttachmentEncryptor(chunkSize: vector.chunkSize)
            let (seal, ciphertext) = try encryptor.encrypt(file: input, fileKey: vector.key, nonce: vector.nonceBytes)
            XCTAssertEqual(ciphertext.hexString, vector.ciphertext, name)
            XCTAssertEqual(seal.root.hexString, vector.root, name)
            XCTAssertEqual(seal.plaintextSHA256.hexString, vector.plaintextSHA256, name)
            XCTAssertEqual(seal.plaintextSize, vector.plaintextSize, name)
            XCTAssertEqual(seal.chunkCount, vector.chunkCount, name)
            XCTAssertEqual(seal.ciphertextSize, vector.ciphertextSize, name)
            XCTAssertEqual(ciphertext.count, vector.ciphertextSize, name)
        }
    }

    func testDecryptorOpensEveryVectorWholeAndChunkByChunk() throws {
        let scratch = try ScratchFiles()
        defer { scratch.cleanUp() }
        for name in AttachmentVector.names {
            let vector = try AttachmentVector.load(name)
            let seal = try vector.seal()
            let ciphertext = vector.ciphertextBytes
            let file = try scratch.write(ciphertext, named: name)
            XCTAssertEqual(try AttachmentDecryptor(seal: seal).decrypt(file: file), vector.plaintextBytes, name)
            let hashes = vector.chunkHashes.map { [UInt8](hexString: $0)! }
            XCTAssertEqual(try AttachmentDecryptor(seal: seal, chunkHashes: hashes).decrypt(file: file), vector.plaintextBytes, name)

            // Each chunk alone, in reverse order, with its inclusion proof: what a resumed
            // transfer does.
            let decryptor = try AttachmentDecryptor(seal: seal)
            var pieces: [[UInt8]] = []
            for index in (0..<seal.chunkCount).reversed() {
                let chunk = Array(ciphertext[try seal.ciphertextRange(ofChunk: index)])
                XCTAssertEqual(AttachmentSeal.chunkHash(chunk).hexString, vector.chunkHashes[index], "\(name) chunk \(index)")
                let proof = MerkleTreeHash.inclusionProof(leafIndex: index, leafHashes: hashes)
                XCTAssertTrue(seal.isCommitted(chunk: chunk, index: index, proof: proof), "\(name) chunk \(index)")
                pieces.insert(try decryptor.openChunk(index, ciphertext: chunk, inclusionProof: proof), at: 0)
            }
            XCTAssertEqual(Array(pieces.joined()), vector.plaintextBytes, name)
        }
    }

    func testSealTravelsAsANotificationAttachmentAndBack() throws {
        let vector = try AttachmentVector.load("three-chunks")
        let seal = try vector.seal()
        let attachment = seal.attachment(name: "photo.jpg", mediaType: "image/jpeg")
        var notification = Samples.notification()
        notification.attachments = [attachment]
        let decoded = try FormalNotification.parse(notification.encoded())
        let back = try AttachmentSeal(try XCTUnwrap(decoded.attachments.first))
        XCTAssertEqual(back.root, seal.root)
        XCTAssertEqual(back.nonce, seal.nonce)
        XCTAssertEqual(back.plaintextSHA256.hexString, vector.plaintextSHA256)
        XCTAssertEqual(back.chunkSize, 1024)
        XCTAssertEqual(back.plaintextSize, 2560)
        back.fileKey.withUnsafeBytes { XCTAssertEqual(Array($0).hexString, vector.fileKey) }

        let described = Attachment(name: "old.pdf", mediaType: "application/pdf", sha256: vector.plaintextSHA256, bytes: 1)
        XCTAssertEqual(attachmentError("an attachment without a key") { _ = try AttachmentSeal(described) },
                       .invalidSeal("attachment \"old.pdf\" carries no file key"))
    }

    /// RFC 5869 appendix A.1, the derivation under every payload key.
    func testHKDFMatchesRFC5869TestCase1() {
        let ikm = [UInt8](repeating: 0x0b, count: 22), salt = [UInt8](0x00...0x0c), info = [UInt8](0xf0...0xf9)
        var okm = [UInt8](repeating: 0, count: 42)
        ikm.withUnsafeBytes { i in salt.withUnsafeBytes { s in okm.withUnsafeMutableBytes { HKDFSHA256.derive(inputKey: i, salt: s, info: info, into: $0) } } }
        XCTAssertEqual(okm.hexString, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    // MARK: The independent decryptor

    static let howToFix = "run Scripts/test.sh, which installs Python's cryptography package"

    /// Runs `open_attachment.py` on a vector (and optionally a ciphertext file); returns
    /// its exit status and output, or skips when python3 is absent.
    private func runPython(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let script = try AttachmentVector.folder.appendingPathComponent("open_attachment.py")
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("python3 is not installed: the independent decryptor cannot run")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if err.contains("No module named 'cryptography'") { XCTFail("python3 lacks cryptography: \(Self.howToFix)") }
        return (process.terminationStatus, out.trimmingCharacters(in: .whitespacesAndNewlines), err)
    }

    func testIndependentPythonDecryptorOpensEveryVector() throws {
        for name in AttachmentVector.names {
            let vector = try AttachmentVector.load(name)
            let result = try runPython([try AttachmentVector.folder.appendingPathComponent("\(name).json").path])
            XCTAssertEqual(result.status, 0, "\(name): \(result.errors)")
            XCTAssertEqual(result.output, vector.plaintext, name)
        }
    }

    func testIndependentPythonDecryptorOpensWhatThisEncryptorWrites() throws {
        let scratch = try ScratchFiles()
        defer { scratch.cleanUp() }
        let plaintext = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let input = try scratch.write(plaintext, named: "input")
        var ciphertext: [UInt8] = []
        let handle = try FileHandle(forReadingFrom: input)
        defer { try? handle.close() }
        let seal = try AttachmentEncryptor(chunkSize: 2048).encrypt(reading: handle) { ciphertext.append(contentsOf: $0) }
        let sealJSON: [String: Any] = [
            "fileKey": seal.fileKey.withUnsafeBytes { Array($0).hexString }, "nonce": seal.nonce.hexString,
            "chunkSize": seal.chunkSize, "plaintextSize": seal.plaintextSize,
            "plaintextSHA256": seal.plaintextSHA256.hexString, "root": seal.root.hexString,
        ]
        let sealFile = scratch.directory.appendingPathComponent("seal.json")
        try JSONSerialization.data(withJSONObject: sealJSON).write(to: sealFile)
        let ciphertextFile = try scratch.write(ciphertext, named: "ciphertext")
        let opened = try runPython([sealFile.path, ciphertextFile.path])
        XCTAssertEqual(opened.status, 0, opened.errors)
        XCTAssertEqual(opened.output, plaintext.hexString)

        var altered = ciphertext
        altered[16 + 2064 + 5] ^= 0x01  // a byte of chunk 1
        let refused = try runPython([sealFile.path, try scratch.write(altered, named: "altered").path])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.errors.contains("chunk 1: does not authenticate"), refused.errors)
    }
}
