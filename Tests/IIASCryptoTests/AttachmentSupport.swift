import Foundation
import XCTest
@testable import IIASCrypto

/// One test vector of `Fixtures/attachment/` (see AttachmentFormat.md).
struct AttachmentVector: Decodable {
    /// Hex, but `description`.
    let description, fileKey, nonce, plaintextSHA256, root, plaintext, ciphertext: String
    let chunkSize, plaintextSize, chunkCount, ciphertextSize: Int
    let chunkHashes: [String]

    static var folder: URL {
        get throws {
            try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures missing from the test bundle")
                .appendingPathComponent("attachment")
        }
    }

    static let names = ["empty", "one-byte", "one-chunk", "one-chunk-and-one-byte", "three-chunks"]

    static func load(_ name: String) throws -> AttachmentVector {
        try JSONDecoder().decode(AttachmentVector.self, from: Data(contentsOf: folder.appendingPathComponent("\(name).json")))
    }

    var plaintextBytes: [UInt8] { [UInt8](hexString: plaintext)! }
    var ciphertextBytes: [UInt8] { [UInt8](hexString: ciphertext)! }
    var key: SecretBytes { [UInt8](hexString: fileKey)!.withUnsafeBytes { SecretBytes(copying: $0) } }
    var nonceBytes: [UInt8] { [UInt8](hexString: nonce)! }

    func seal() throws -> AttachmentSeal {
        try AttachmentSeal(fileKey: key, nonce: nonceBytes, chunkSize: chunkSize, plaintextSize: plaintextSize,
                           plaintextSHA256: [UInt8](hexString: plaintextSHA256)!, root: [UInt8](hexString: root)!)
    }
}

/// Real files in a fresh temporary directory, removed by `cleanUp`.
struct ScratchFiles {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("iias-attachment-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ bytes: [UInt8], named name: String) throws -> URL {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }
}

extension AttachmentDecryptor {
    /// Decrypts a whole ciphertext held in a real file; returns the plaintext.
    func decrypt(file: URL) throws -> [UInt8] {
        let input = try FileHandle(forReadingFrom: file)
        defer { try? input.close() }
        var plaintext: [UInt8] = []
        try decrypt(reading: input) { plaintext.append(contentsOf: $0) }
        return plaintext
    }
}

extension AttachmentEncryptor {
    /// Encrypts a real file with a fixed key and nonce; returns the seal and the ciphertext.
    func encrypt(file: URL, fileKey: SecretBytes, nonce: [UInt8]) throws -> (AttachmentSeal, [UInt8]) {
        let input = try FileHandle(forReadingFrom: file)
        defer { try? input.close() }
        var ciphertext: [UInt8] = []
        let seal = try encrypt(reading: input.fileDescriptor, fileKey: fileKey, nonce: nonce) { ciphertext.append(contentsOf: $0) }
        return (seal, ciphertext)
    }
}

/// Runs `body` and returns the ``AttachmentError`` it throws; fails the test when it
/// throws nothing or another error.
func attachmentError(_ what: String, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void) -> AttachmentError? {
    do {
        try body()
        XCTFail("\(what): accepted", file: file, line: line)
    } catch let error as AttachmentError {
        return error
    } catch {
        XCTFail("\(what): \(error)", file: file, line: line)
    }
    return nil
}
