import Foundation
import IIASModel

/// What an envelope carries in clear, signed: only what routing and auditing need.
/// Category, subject and content stay inside the encrypted body.
public struct EnvelopeHeader: Sendable, Equatable {
    /// What the envelope is. Receipts carry no body.
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case notification
        case receipt
    }

    /// The envelope id; for a notification, equal to the notification's id.
    public var id: UUID
    public var kind: Kind
    public var sender: CenterID
    /// Sorted and unique, so that one set of recipients has one encoding.
    public var recipients: [CenterID]
    /// When the sender sealed it (millisecond precision).
    public var created: Date
    /// The XChaCha20-Poly1305 nonce of the body (notifications only).
    public var nonce: [UInt8]?
    /// The sender's ephemeral X25519 public key of the epoch the content key was wrapped
    /// under (envelope version 2); nil in version 1, where each key is a sealed box.
    public var ephemeral: [UInt8]?
    /// The content key for each recipient (notifications only): a sealed box to its
    /// X25519 key (version 1), or wrapped under the key agreed with `ephemeral` (version 2).
    public var sealedKeys: [CenterID: [UInt8]]
    /// What a receipt acknowledges (receipts only): one envelope's outcome.
    public var receipt: Receipt?
    /// Delivery receipts for 2 to `Receipt.maximumBatch` envelopes under one signature
    /// (the member `receipts`), instead of `receipt`: a recipient answers what one
    /// fdatasync made durable together with one Ed25519 signature, and the sender checks
    /// one signature and logs one entry for all of them.
    public var receiptBatch: [Receipt]?
    /// The identity of the key that signs the envelope (version 3): SHA-256 of its DER
    /// SubjectPublicKeyInfo, as `Certificate.publicKeyIdentity`. Keys rotate; a verifier
    /// holding a center's every certificate picks the one this names, and can tell "no
    /// certificate known for this key" from "the signature does not verify".
    public var signer: [UInt8]?

    /// Every outcome a receipt envelope carries: its `receipt`, or its batch.
    public var receipts: [Receipt] { receipt.map { [$0] } ?? receiptBatch ?? [] }

    public init(id: UUID, kind: Kind, sender: CenterID, recipients: [CenterID], created: Date,
                nonce: [UInt8]? = nil, ephemeral: [UInt8]? = nil, sealedKeys: [CenterID: [UInt8]] = [:],
                receipt: Receipt? = nil, receiptBatch: [Receipt]? = nil, signer: [UInt8]? = nil) {
        self.id = id
        self.kind = kind
        self.sender = sender
        self.recipients = Array(Set(recipients)).sorted()
        self.created = created.truncatedToMilliseconds
        self.nonce = nonce
        self.ephemeral = ephemeral
        self.sealedKeys = sealedKeys
        self.receipt = receipt
        self.receiptBatch = receiptBatch
        self.signer = signer
    }

    /// The canonical bytes (RFC 8785 form) that are signed and used as associated data:
    /// members in key order (created, ephemeral, id, keys, kind, nonce, receipt,
    /// receipts, recipients, sender, signer), written straight into one buffer — every envelope sealed and every
    /// header read (re-encoded to prove it canonical) comes through here.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(272 + 72 * sealedKeys.count + 160 * (receiptBatch?.count ?? (receipt == nil ? 0 : 1)))
        out.append(contentsOf: #"{"created":"#.utf8)
        JSONWriter.write(string: Timestamp.formatWithMilliseconds(created), to: &out)
        if let ephemeral {
            out.append(contentsOf: #","ephemeral":"#.utf8)
            JSONWriter.write(string: Data(ephemeral).base64EncodedString(), to: &out)
        }
        out.append(contentsOf: #","id":"#.utf8)
        JSONWriter.write(string: id.canonicalString, to: &out)
        if !sealedKeys.isEmpty {
            out.append(contentsOf: #","keys":{"#.utf8)
            let centers = sealedKeys.keys.sorted { $0.rawValue.utf16.lexicographicallyPrecedes($1.rawValue.utf16) }
            for (i, center) in centers.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONWriter.write(string: center.rawValue, to: &out)
                out.append(UInt8(ascii: ":"))
                JSONWriter.write(string: Data(sealedKeys[center]!).base64EncodedString(), to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #","kind":"#.utf8)
        JSONWriter.write(string: kind.rawValue, to: &out)
        if let nonce {
            out.append(contentsOf: #","nonce":"#.utf8)
            JSONWriter.write(string: Data(nonce).base64EncodedString(), to: &out)
        }
        if let receipt {
            out.append(contentsOf: #","receipt":"#.utf8)
            receipt.writeCanonical(to: &out)
        }
        if let receiptBatch {
            out.append(contentsOf: #","receipts":["#.utf8)
            for (i, receipt) in receiptBatch.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                receipt.writeCanonical(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #","recipients":["#.utf8)
        for (i, recipient) in recipients.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONWriter.write(string: recipient.rawValue, to: &out)
        }
        out.append(contentsOf: #"],"sender":"#.utf8)
        JSONWriter.write(string: sender.rawValue, to: &out)
        if let signer {
            out.append(contentsOf: #","signer":"#.utf8)
            JSONWriter.write(string: signer.hexString, to: &out)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Parses and checks every field, then requires the bytes to be canonical. A header
    /// in canonical form (every header a signer writes) is read in one pass
    /// (`readCanonical`); anything else goes through the general reader, which says
    /// what is wrong.
    init(parsing bytes: ArraySlice<UInt8>) throws(EnvelopeError) {
        if let header = Self.readCanonical(bytes) {
            self = header
        } else {
            try self.init(parsingAnyForm: bytes)
        }
    }

    /// The general reader: a strict JSON parse, each field by name (naming the first
    /// that is wrong), the rules between fields, then the canonical re-encoding.
    package init(parsingAnyForm bytes: ArraySlice<UInt8>) throws(EnvelopeError) {
        let parsed: JSONParser.Result
        do {
            parsed = try JSONParser.parse(Array(bytes))
        } catch {
            throw .malformedHeader("the header is \(error.message)")
        }
        guard case .object(let object) = parsed.value else { throw .malformedHeader("the header is not a JSON object") }
        if let duplicate = parsed.duplicateKeys.first {
            throw .malformedHeader("\(duplicate.prefix(40)): the field occurs twice")
        }
        var fields = HeaderFields(object, path: "")
        let id = try fields.uuid("id")
        let kindText = try fields.string("kind")
        guard let kind = Kind(rawValue: kindText) else {
            throw .malformedHeader("kind: unknown kind \"\(kindText.prefix(32))\"")
        }
        let sender = try fields.center("sender")
        let recipients = try fields.centers("recipients")
        let createdText = try fields.string("created")
        guard let created = Timestamp.parse(createdText), Timestamp.formatWithMilliseconds(created) == createdText else {
            throw .malformedHeader("created: not a timestamp like 2026-11-22T21:05:09.120Z")
        }
        var nonce: [UInt8]? = nil
        var ephemeral: [UInt8]? = nil
        var sealed: [CenterID: [UInt8]] = [:]
        var receipt: Receipt? = nil
        var receiptBatch: [Receipt]? = nil
        switch kind {
        case .notification:
            nonce = try fields.base64("nonce", count: XChaCha20Poly1305.nonceByteCount)
            ephemeral = try fields.optionalBase64("ephemeral", count: EncryptionPublicKey.byteCount)
            var keys = HeaderFields(try fields.object("keys"), path: "keys.")
            for recipient in recipients {
                sealed[recipient] = try keys.base64(recipient.rawValue, count: Envelope.contentKeyFieldByteCount(ephemeral: ephemeral))
            }
            try keys.requireNoOthers()
        case .receipt:
            guard !(fields.has("receipt") && fields.has("receipts")) else {
                throw .malformedHeader("a receipt has a receipt or a receipts field, not both")
            }
            if let list = try fields.optionalArray("receipts", limit: Receipt.maximumBatch) {
                receiptBatch = try list.enumerated().map { (i, item) throws(EnvelopeError) in
                    guard case .object(let object) = item else { throw .malformedHeader("receipts[\(i)]: expected an object") }
                    return try Receipt(HeaderFields(object, path: "receipts[\(i)]."))
                }
            } else {
                receipt = try Receipt(HeaderFields(try fields.object("receipt"), path: "receipt."))
            }
        }
        let signer = fields.has("signer") ? try fields.hex("signer", count: SHA256.byteCount) : nil
        try fields.requireNoOthers()
        self.init(id: id, kind: kind, sender: sender, recipients: recipients, created: created,
                  nonce: nonce, ephemeral: ephemeral, sealedKeys: sealed, receipt: receipt, receiptBatch: receiptBatch,
                  signer: signer)
        try checkRules()
        guard canonicalBytes.elementsEqual(bytes) else { throw .nonCanonicalHeader }
    }

    /// The rules between fields, which both readers apply to what they read.
    func checkRules() throws(EnvelopeError) {
        guard recipients.count <= Envelope.maximumRecipients else {
            throw .tooLarge(part: "recipient list", size: recipients.count, limit: Envelope.maximumRecipients)
        }
        guard !recipients.isEmpty else { throw .malformedHeader("recipients: empty") }
        guard !recipients.contains(sender) else { throw .malformedHeader("recipients: contains the sender") }
        guard signer.map({ $0.count == SHA256.byteCount }) ?? true else { throw .malformedHeader("signer: expected 32 bytes") }
        switch kind {
        case .notification:
            guard nonce != nil, receipt == nil, receiptBatch == nil else { throw .malformedHeader("a notification has a nonce and no receipt") }
            // Recipients are unique (the initializer made them so): equal counts and every
            // recipient present means the same set, without building one per header.
            guard sealedKeys.count == recipients.count, recipients.allSatisfy({ sealedKeys[$0] != nil }) else {
                throw .malformedHeader("keys: one sealed content key for each recipient, and no other")
            }
            let keySize = Envelope.contentKeyFieldByteCount(ephemeral: ephemeral)
            guard ephemeral.map({ $0.count == EncryptionPublicKey.byteCount }) ?? true,
                  sealedKeys.values.allSatisfy({ $0.count == keySize }) else {
                throw .malformedHeader("keys: each \(keySize) bytes \(ephemeral == nil ? "(sealed boxes)" : "(wrapped under the ephemeral key)")")
            }
        case .receipt:
            guard (receipt == nil) != (receiptBatch == nil), nonce == nil, ephemeral == nil, sealedKeys.isEmpty else {
                throw .malformedHeader("a receipt has a receipt or a receipts field (not both) and no nonce, ephemeral key or keys")
            }
            guard recipients.count == 1 else { throw .malformedHeader("recipients: a receipt goes to exactly one center") }
            if let receipt { try receipt.checkRules() }
            if let receiptBatch { try Receipt.checkBatchRules(receiptBatch) }
        }
    }
}

/// Reads typed fields out of a parsed JSON object, naming the field on any failure, and
/// remembers which were read so that unknown fields can be refused.
struct HeaderFields {
    private let object: [String: JSONValue]
    private let path: String
    private var seen: Set<String> = []

    init(_ object: [String: JSONValue], path: String) {
        self.object = object
        self.path = path
    }

    private mutating func value(_ key: String) throws(EnvelopeError) -> JSONValue {
        seen.insert(key)
        guard let v = object[key] else { throw .malformedHeader("\(path)\(key): missing") }
        return v
    }

    mutating func string(_ key: String) throws(EnvelopeError) -> String {
        guard case .string(let s) = try value(key) else { throw .malformedHeader("\(path)\(key): expected a string") }
        return s
    }

    mutating func optionalString(_ key: String) throws(EnvelopeError) -> String? {
        guard object[key] != nil else { return nil }
        return try string(key)
    }

    mutating func integer(_ key: String) throws(EnvelopeError) -> UInt64 {
        // Only integers written without fraction or exponent: anything else would change
        // bytes on re-encoding, and the header would not be canonical.
        guard case .integer(let n) = try value(key), n >= 0, n <= 1 << 53 else {
            throw .malformedHeader("\(path)\(key): expected a non-negative integer")
        }
        return UInt64(n)
    }

    mutating func optionalInteger(_ key: String) throws(EnvelopeError) -> UInt64? {
        guard object[key] != nil else { return nil }
        return try integer(key)
    }

    mutating func uuid(_ key: String) throws(EnvelopeError) -> UUID {
        let s = try string(key)
        guard let id = UUID(canonical: s) else {
            throw .malformedHeader("\(path)\(key): expected a lower-case UUID")
        }
        return id
    }

    mutating func center(_ key: String) throws(EnvelopeError) -> CenterID {
        let s = try string(key)
        guard let id = CenterID(s) else { throw .malformedHeader("\(path)\(key): not a center id") }
        return id
    }

    mutating func centers(_ key: String) throws(EnvelopeError) -> [CenterID] {
        guard case .array(let list) = try value(key) else { throw .malformedHeader("\(path)\(key): expected an array") }
        guard list.count <= Envelope.maximumRecipients else {
            throw .tooLarge(part: "recipient list", size: list.count, limit: Envelope.maximumRecipients)
        }
        var out: [CenterID] = []
        for (i, item) in list.enumerated() {
            guard case .string(let s) = item, let id = CenterID(s) else {
                throw .malformedHeader("\(path)\(key)[\(i)]: not a center id")
            }
            out.append(id)
        }
        guard Set(out).count == out.count else { throw .malformedHeader("\(path)\(key): a center is listed twice") }
        return out
    }

    mutating func base64(_ key: String, count: Int) throws(EnvelopeError) -> [UInt8] {
        let s = try string(key)
        guard let data = Data(base64Encoded: s), data.count == count else {
            throw .malformedHeader("\(path)\(key): expected \(count) bytes in base64")
        }
        return [UInt8](data)
    }

    mutating func optionalBase64(_ key: String, count: Int) throws(EnvelopeError) -> [UInt8]? {
        guard object[key] != nil else { return nil }
        return try base64(key, count: count)
    }

    mutating func hex(_ key: String, count: Int) throws(EnvelopeError) -> [UInt8] {
        let s = try string(key)
        guard let bytes = [UInt8](hexString: s), bytes.count == count, bytes.hexString == s else {
            throw .malformedHeader("\(path)\(key): expected \(count) bytes in lower-case hex")
        }
        return bytes
    }

    func has(_ key: String) -> Bool { object[key] != nil }

    /// An array of at most `limit` items, or nil when the field is absent.
    mutating func optionalArray(_ key: String, limit: Int) throws(EnvelopeError) -> [JSONValue]? {
        guard object[key] != nil else { return nil }
        guard case .array(let list) = try value(key) else { throw .malformedHeader("\(path)\(key): expected an array") }
        guard list.count <= limit else { throw .malformedHeader("\(path)\(key): \(list.count) items; at most \(limit)") }
        return list
    }

    mutating func object(_ key: String) throws(EnvelopeError) -> [String: JSONValue] {
        guard case .object(let o) = try value(key) else { throw .malformedHeader("\(path)\(key): expected an object") }
        return o
    }

    func requireNoOthers() throws(EnvelopeError) {
        if let extra = object.keys.filter({ !seen.contains($0) }).sorted().first {
            throw .malformedHeader("\(path)\(extra.prefix(40)): unknown field")
        }
    }
}
