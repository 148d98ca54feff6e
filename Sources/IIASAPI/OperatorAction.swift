import Foundation
import IIASCrypto
import IIASLog
import IIASModel

/// What one `operatorAction` log entry says: who did what to which envelope. JSON, no
/// plaintext: a submission's summary (category, priority, subject) is encrypted under a
/// key only this node derives (`SelfSealingKey`), so the outbox can show it after a
/// restart while the disk holds only ciphertext.
public struct OperatorAction: Codable, Sendable, Equatable {
    public enum Action: String, Codable, Sendable, CaseIterable { case submit, read, acknowledge }
    public var action: Action
    public var envelope: UUID
    /// `read` and `acknowledge`: the envelope's sender, since an id alone does not name a
    /// received notification (`EnvelopeKey`). Nil in `submit` (ours) and in entries
    /// written before it was recorded (the fold then takes the one envelope with the id).
    public var sender: CenterID?
    public var user: String
    public var uid: UInt32
    /// `submit` only: `OutboxSummary` JSON under this node's outbox-summary key, bound to
    /// the envelope id (`OutboxSummary.associatedData`). What submissions write now.
    public var encryptedSummary: Data?
    /// `submit` only, in entries written before `encryptedSummary`: the same JSON in a
    /// sealed box to this node's X25519 key. Still read, never written.
    public var sealedSummary: Data?
    /// `submit` only: true when the operator explicitly sent weaker handling than what the
    /// submission answers (the details are in the encrypted summary). Absent otherwise, and
    /// in every entry written before it existed.
    public var weakenedHandling: Bool?

    public init(action: Action, envelope: UUID, sender: CenterID? = nil, actor: LocalUser, encryptedSummary: Data? = nil, sealedSummary: Data? = nil) {
        self.action = action
        self.envelope = envelope
        self.sender = sender
        self.user = actor.user
        self.uid = actor.uid
        self.encryptedSummary = encryptedSummary
        self.sealedSummary = sealedSummary
    }

    /// JSON with sorted keys (the form `JSONEncoder` with `.sortedKeys` writes, which
    /// older entries hold), through the model's writer: one is logged per submit, read
    /// and acknowledgement, and folded again at every start.
    public func encoded() -> [UInt8] {
        var members: [String: JSONValue] = [
            "action": .string(action.rawValue), "envelope": .string(envelope.upperCaseString),
            "user": .string(user), "uid": .integer(Int64(uid)),
        ]
        if let sender { members["sender"] = .string(sender.rawValue) }
        if let encryptedSummary { members["encryptedSummary"] = .string(encryptedSummary.base64EncodedString()) }
        if let sealedSummary { members["sealedSummary"] = .string(sealedSummary.base64EncodedString()) }
        if weakenedHandling == true { members["weakenedHandling"] = .bool(true) }
        return JSONWriter.bytes(.object(members))
    }

    /// Reads what `encoded()` (or `JSONEncoder`) wrote; nil for anything else.
    public init?(json bytes: [UInt8]) {
        guard let parsed = try? JSONParser.parse(bytes), parsed.duplicateKeys.isEmpty, case .object(let object) = parsed.value,
              case .string(let actionText)? = object["action"], let action = Action(rawValue: actionText),
              case .string(let envelopeText)? = object["envelope"], let envelope = UUID(eitherCase: envelopeText),
              case .string(let user)? = object["user"], case .integer(let uid)? = object["uid"], let uid = UInt32(exactly: uid),
              Set(object.keys).isSubset(of: ["action", "envelope", "sender", "user", "uid", "encryptedSummary", "sealedSummary", "weakenedHandling"]) else { return nil }
        if let value = object["weakenedHandling"] {
            guard case .bool(let weakened) = value else { return nil }
            self.weakenedHandling = weakened
        }
        var sender: CenterID?
        if let value = object["sender"] {
            guard case .string(let text) = value, let center = CenterID(rawValue: text) else { return nil }
            sender = center
        }
        func base64(_ key: String) -> Data?? {
            guard let value = object[key] else { return .some(nil) }
            guard case .string(let text) = value, let data = Data(base64Encoded: text) else { return nil }
            return data
        }
        guard let encrypted = base64("encryptedSummary"), let sealed = base64("sealedSummary") else { return nil }
        self.action = action
        self.envelope = envelope
        self.sender = sender
        self.user = user
        self.uid = uid
        self.encryptedSummary = encrypted
        self.sealedSummary = sealed
    }
}
