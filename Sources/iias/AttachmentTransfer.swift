import Foundation
import IIASAPI
import IIASCrypto
import IIASModel
import NIOHTTP1

/// The operator's side of attachments: a file streams to the node in pieces (the node
/// encrypts as they arrive) and the draft names the upload; a received attachment's
/// ciphertext streams back and is opened here with the key in the notification, checked
/// (commitment and SHA-256) before it takes its name, never over an existing file.
enum AttachmentTransfer {
    /// Bytes per upload or download request (under the node's `limits.maxRequestBytes`).
    static let pieceBytes = 1 << 20

    /// Uploads `--attach` files and draft attachments given as `{"path": …}`, replacing
    /// each with `{"upload": ID, "name": …, "mediaType": …}`.
    static func uploadAll(_ document: inout [String: Any], attach paths: [String], _ client: LocalAPIClient) async throws {
        var items = (document["attachments"] as? [Any]) ?? []
        items += paths.map { ["path": $0] as [String: Any] }
        guard !items.isEmpty else { return }
        var filled: [Any] = []
        for item in items {
            guard var fields = item as? [String: Any], let path = fields["path"] as? String else { filled.append(item); continue }
            let name = (fields["name"] as? String) ?? (path as NSString).lastPathComponent
            fields["upload"] = try await upload(path, client)
            fields["name"] = name
            fields["mediaType"] = (fields["mediaType"] as? String) ?? mediaType(of: name)
            fields["path"] = nil
            filled.append(fields)
        }
        document["attachments"] = filled
    }

    /// Streams one file to the node; the upload id.
    static func upload(_ path: String, _ client: LocalAPIClient) async throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path),
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else {
            throw CLIFailure.invalid("cannot read \(path)", hint: "give the path of a readable file to --attach")
        }
        defer { try? handle.close() }
        let begun: [String: String] = try await client.call(.POST, "/v1/attachments?bytes=\(size)")
        guard let id = begun["upload"] else { throw CLIFailure.invalid("the node answered no upload id") }
        var offset = 0
        while offset < size {
            let piece = try handle.read(upToCount: pieceBytes) ?? Data()
            guard !piece.isEmpty else { break }
            let _: [String: Int] = try await client.call(.PUT, "/v1/attachments/\(id)?offset=\(offset)", body: Array(piece))
            offset += piece.count
        }
        let _: [String: String] = try await client.call(.POST, "/v1/attachments/\(id)")
        return id
    }

    static func mediaType(of name: String) -> String {
        let known = ["pdf": "application/pdf", "txt": "text/plain", "json": "application/json", "jpg": "image/jpeg",
                     "jpeg": "image/jpeg", "png": "image/png", "zip": "application/zip", "csv": "text/csv"]
        return known[(name as NSString).pathExtension.lowercased()] ?? "application/octet-stream"
    }

    /// Where a received attachment stands at the node.
    struct Reception: Decodable {
        var state: String, reason: String?
        var held: Int, chunkSize: Int, plaintextBytes: Int
        var storedPath: String?

        var chunks: Int { AttachmentEncryption.chunkCount(size: plaintextBytes, chunkSize: chunkSize) }

        var shown: String {
            switch state {
            case "receiving": "receiving \(held * 100 / max(1, chunks))%"
            case "failed": "failed: \(reason ?? "unknown")"
            case "waitingForSpace": reason ?? "waiting for space"
            default: state
            }
        }
    }

    static func reception(of attachment: Attachment, from sender: CenterID, _ client: LocalAPIClient) async throws -> Reception? {
        guard let root = attachment.encryption?.root else { return nil }
        return try await client.call(.GET, "/v1/attachments/\(root)?sender=\(sender.rawValue)")
    }

    /// Fetches, opens and checks a complete attachment, then gives it a name in
    /// `directory` that no file has: `name`, else `name (2)`, … The path it took.
    static func save(_ attachment: Attachment, from sender: CenterID, into directory: String, _ client: LocalAPIClient) async throws -> String {
        guard let encryption = attachment.encryption else { throw CLIFailure.invalid("\(attachment.name) carries no key: nothing to open") }
        let seal = try AttachmentSeal(attachment)
        let ciphertext = directory + "/.iias-" + encryption.root + ".ct", plaintext = directory + "/.iias-" + encryption.root + ".part"
        defer { unlink(ciphertext); unlink(plaintext) }
        let ctFD = open(ciphertext, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard ctFD >= 0 else { throw CLIFailure.invalid("cannot write in \(directory): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < encryption.ciphertextBytes {
            let (status, bytes) = try await client.raw(.GET, "/v1/attachments/\(encryption.root)/ciphertext?sender=\(sender.rawValue)&offset=\(offset)")
            guard status == 200, !bytes.isEmpty else { close(ctFD); throw CLIFailure.invalid("the node refused the ciphertext of \(attachment.name) (HTTP \(status))") }
            guard bytes.withUnsafeBytes({ pwrite(ctFD, $0.baseAddress, $0.count, off_t(offset)) }) == bytes.count else {
                close(ctFD); throw CLIFailure.invalid("cannot write in \(directory)")
            }
            offset += bytes.count
        }
        close(ctFD)
        guard let input = FileHandle(forReadingAtPath: ciphertext) else { throw CLIFailure.invalid("cannot read back \(ciphertext)") }
        defer { try? input.close() }
        let ptFD = open(plaintext, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard ptFD >= 0 else { throw CLIFailure.invalid("cannot write in \(directory)") }
        var written = 0
        do {
            try AttachmentDecryptor(seal: seal).decrypt(reading: input) { chunk in
                guard pwrite(ptFD, chunk.baseAddress, chunk.count, off_t(written)) == chunk.count else { throw CLIFailure.invalid("cannot write in \(directory)") }
                written += chunk.count
            }
            guard fsync(ptFD) == 0 else { throw CLIFailure.invalid("cannot sync \(plaintext)") }
            close(ptFD)
        } catch {
            close(ptFD)
            throw CLIFailure.invalid("\(attachment.name) does not open as committed: \(error)", hint: "nothing was saved")
        }
        return try claimName(for: plaintext, name: safeName(attachment.name), in: directory)
    }

    /// A file name that cannot hide or escape: control characters become `_`, a leading dot too.
    static func safeName(_ name: String) -> String {
        var safe = String(String.UnicodeScalarView(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F || $0 == "/" ? "_" : $0 }))
        if safe.hasPrefix(".") { safe = "_" + safe.dropFirst() }
        return safe.isEmpty ? "attachment" : safe
    }

    /// Links `file` under `name` (or `name (n)`) in `directory` without replacing anything.
    private static func claimName(for file: String, name: String, in directory: String) throws -> String {
        let base = (name as NSString).deletingPathExtension, ext = (name as NSString).pathExtension
        for n in 1...1000 {
            let candidate = n == 1 ? name : "\(base) (\(n))" + (ext.isEmpty ? "" : "." + ext)
            let target = directory + "/" + candidate
            if link(file, target) == 0 { return target }
            guard errno == EEXIST else { throw CLIFailure.invalid("cannot name \(target): \(String(cString: strerror(errno)))") }
        }
        throw CLIFailure.invalid("\(directory) already holds 1000 files named like \(name)")
    }
}
