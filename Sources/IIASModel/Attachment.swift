/// A file that belongs to a notification, described here and carried separately, so
/// that the notification stays small and the file's integrity is bound to it by hash.
public struct Attachment: Codable, Sendable, Hashable {
    /// The file name to show and save under: 1 to 255 characters, no `/`, no control
    /// characters, not `.` or `..` (so it can never name another directory).
    public var name: String
    /// `type/subtype` (RFC 6838), without parameters.
    public var mediaType: String
    /// SHA-256 of the file's bytes, 64 lower-case hex digits.
    public var sha256: String
    /// The file's size, 0 through `Attachment.maximumSize`.
    public var bytes: Int
    /// How the bytes are encrypted and where they are committed to; nil in notifications
    /// that describe a file without carrying its key (written before the format existed).
    public var encryption: AttachmentEncryption?

    /// 64 GiB, the attachment cipher's own bound; a node sets its own lower limit
    /// (`limits.maxAttachmentBytes`, 1 GiB by default) on what it stores.
    public static let maximumSize = 1 << 36

    public init(name: String, mediaType: String, sha256: String, bytes: Int, encryption: AttachmentEncryption? = nil) {
        self.name = name
        self.mediaType = mediaType
        self.sha256 = sha256
        self.bytes = bytes
        self.encryption = encryption
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Attachment.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension Attachment {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Attachment? {
        let before = reader.problemCount
        guard let object = reader.object(value, at: path, allowed: ["name", "mediaType", "sha256", "bytes", "encryption"]) else { return nil }
        let name = object.required("name") { v, p -> String? in
            guard let name = reader.text(v, at: p, length: 1...255) else { return nil }
            guard !name.contains("/"), name != ".", name != ".." else {
                reader.report(p, "must be a plain file name: no \"/\", not \".\" or \"..\"")
                return nil
            }
            return name
        }
        let mediaType = object.required("mediaType") { reader.token($0, at: $1, expected: "a media type such as application/pdf", isMediaType) }
        let sha256 = object.required("sha256") { reader.token($0, at: $1, expected: "64 lower-case hex digits", isSHA256) }
        let bytes = object.required("bytes") { reader.integer($0, at: $1, range: 0...maximumSize) }
        let encryption = object.optional("encryption") { AttachmentEncryption.read($0, at: $1, size: bytes, reader) }
        guard reader.problemCount == before, let name, let mediaType, let sha256, let bytes else { return nil }
        return Attachment(name: name, mediaType: mediaType, sha256: sha256, bytes: bytes, encryption: encryption)
    }

    /// RFC 6838 restricted-name "/" restricted-name.
    static func isMediaType(_ text: String) -> Bool {
        let parts = text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return parts.allSatisfy { part in
            guard let first = part.first, (1...127).contains(part.count), isAlphanumeric(first) else { return false }
            return part.allSatisfy { isAlphanumeric($0) || Array("!#$&^_.+-".utf8).contains($0) }
        }
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
    }

    static func isSHA256(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 64 && bytes.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    var json: JSONValue {
        .members([
            "name": .string(name),
            "mediaType": .string(mediaType),
            "sha256": .string(sha256),
            "bytes": .integer(Int64(bytes)),
            "encryption": encryption?.json,
        ])
    }
}
