import Foundation
import IIASCrypto
import IIASModel

/// What the node keeps about an attachment it sends: which notification carries it, its
/// size and chunking, and where each recipient stands. No key and no file name: the disk
/// holds ciphertext and counts only (the file key and the name are in the notification).
struct OutgoingAttachment: Codable, Sendable, Equatable {
    /// The commitment (hex): names the attachment on the wire and on disk.
    var root: String
    var envelope: UUID
    var chunkSize: Int
    var plaintextBytes: Int
    /// Per recipient: `waiting` until the recipient's ATTACHMENT_END, then `delivered` or
    /// `refused: <reason>`.
    var recipients: [String: String]
    /// When the last recipient ended its transfer (retention counts from here).
    var endedAt: Date?
    /// The ciphertext and chunk hashes were removed after the retention (logged as `released`).
    var released: Bool?

    var chunkCount: Int { AttachmentEncryption.chunkCount(size: plaintextBytes, chunkSize: chunkSize) }
    var ciphertextBytes: Int { AttachmentEncryption.ciphertextBytes(size: plaintextBytes, chunkSize: chunkSize) }
}

/// What a recipient keeps about an attachment a peer's notification announced: enough to
/// check and place every chunk without the key (the nonce begins the ciphertext and is
/// not secret), how many chunks it holds durably, and its state.
struct IncomingAttachment: Codable, Sendable, Equatable {
    /// `waitingForSpace`: receiving, but the free space is short of a chunk and the spare;
    /// nothing is written until it returns.
    enum State: String, Codable, Sendable { case receiving, waitingForSpace, complete, failed }
    var sender: String
    var envelope: UUID
    var root: String
    /// Base64 of the 16-byte nonce the ciphertext begins with.
    var nonce: String
    var chunkSize: Int
    var plaintextBytes: Int
    /// Chunks 0..<held are written and fsynced.
    var held: Int
    var state: State
    var reason: String?
    /// The attachment's place among the notification's attachments (absent in records
    /// written before it was kept).
    var position: Int?
    /// Where the ciphertext lies: filled in answers to the local API, never stored.
    var storedPath: String?

    var chunkCount: Int { AttachmentEncryption.chunkCount(size: plaintextBytes, chunkSize: chunkSize) }
    var ciphertextBytes: Int { AttachmentEncryption.ciphertextBytes(size: plaintextBytes, chunkSize: chunkSize) }
    var key: String { sender + "-" + root }

    /// Where chunk `index` lies in the ciphertext.
    func range(ofChunk index: Int) -> Range<Int> {
        let start = AttachmentSeal.nonceByteCount + index * (chunkSize + AttachmentSeal.tagByteCount)
        let plain = index == chunkCount - 1 ? plaintextBytes - chunkSize * (chunkCount - 1) : chunkSize
        return start..<(start + plain + AttachmentSeal.tagByteCount)
    }
}

/// An attachment a received notification announces, taken from it when it is opened
/// (the file key stays behind).
struct AnnouncedAttachment: Sendable, Equatable {
    var root: String
    var nonce: String
    var chunkSize: Int
    var plaintextBytes: Int
    var position = 0

    static func from(_ notification: FormalNotification) -> [AnnouncedAttachment] {
        notification.attachments.enumerated().compactMap { position, attachment in
            attachment.encryption.map { .init(root: $0.root, nonce: $0.nonce, chunkSize: $0.chunkSize, plaintextBytes: attachment.bytes, position: position) }
        }
    }
}

/// The attachments directory (DATA/attachments): `out/ROOT.ct` and `ROOT.hashes` (the
/// chunk hashes) and `ROOT.json` for what we send, `in/SENDER-ROOT.ct` and `.json` for what
/// we receive. Records are replaced whole: written beside, fsynced, renamed, the
/// directory fsynced.
struct AttachmentDirectory: Sendable {
    let path: String
    var outgoing: String { path + "/out" }
    var incoming: String { path + "/in" }

    init(dataDirectory: String) throws {
        path = (dataDirectory as NSString).appendingPathComponent("attachments")
        for directory in [path, path + "/out", path + "/in"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
    }

    func save(_ record: some Encodable, to file: String) throws {
        let data = try JSONEncoder().encode(record)
        let temporary = file + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        try data.withUnsafeBytes { try Self.writeAll(fd, $0, at: 0) }
        guard fsync(fd) == 0, rename(temporary, file) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        Self.syncDirectory((file as NSString).deletingLastPathComponent)
    }

    func load<Record: Decodable>(_ type: Record.Type, in directory: String) -> [Record] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            FileManager.default.contents(atPath: directory + "/" + name).flatMap { try? JSONDecoder().decode(type, from: $0) }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            done += n
        }
    }

    static func readExactly(_ fd: Int32, count: Int, at offset: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            done += n
        }
        return out
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// Bytes free to an unprivileged writer on the file system holding `path`.
    static func freeBytes(_ path: String) -> Int? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }
}
