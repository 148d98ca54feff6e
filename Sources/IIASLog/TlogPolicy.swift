import Foundation
import IIASCrypto

/// A C2SP transparency log trust policy (https://c2sp.org/tlog-policy): the logs an auditor
/// accepts, the witnesses it knows and the quorum of them a checkpoint needs. It lets a
/// proof of delivery be judged against keys the auditor chose, offline, by any C2SP tool.
///
/// ```
/// log iias:center:AZ/log+1a2b3c4d+AR…          (vkey, type 0x01, name = origin)
/// witness GE iias:center:GE/witness+…+BA…       (vkey, type 0x04)
/// group peers 2 GE UA MD                        (all | any | k, members defined above)
/// quorum peers                                  (a witness, a group or none)
/// ```
///
/// One rule of IIAS's own is applied on top: a center's witness key never counts towards
/// the quorum of that center's own log (nor does any witness key equal to the log's key),
/// so one policy serves every center's log and no center witnesses itself.
public struct TlogPolicy: Sendable {
    /// A C2SP verifier key, "NAME+hex(key ID)+base64(type ‖ public key)" (signed-note).
    public struct VerifierKey: Sendable, Equatable {
        public var name: String
        public var keyID: [UInt8]
        /// 0x01: an Ed25519 note signature (a log's); 0x04: an Ed25519 cosignature/v1 (a witness's).
        public var type: UInt8
        public var publicKey: SigningPublicKey

        public static let noteSignature: UInt8 = 0x01
        public static let cosignatureV1: UInt8 = 0x04

        public init(name: String, type: UInt8, publicKey: SigningPublicKey) {
            self.name = name
            self.type = type
            self.publicKey = publicKey
            keyID = type == Self.cosignatureV1 ? Cosignature.keyID(name: name, publicKey: publicKey)
                : Checkpoint.keyHash(name: name, publicKey: publicKey)
        }

        /// Reads a vkey; its key ID must be the one its name, type and key give.
        public init(parsing text: Substring) throws(LogProofError) {
            let parts = text.split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3, !parts[0].isEmpty, parts[1].count == 8, let id = [UInt8](hexString: String(parts[1])),
                  let raw = Data(base64Encoded: String(parts[2])), let type = raw.first else {
                throw .malformed("\(text.prefix(80)) is not a vkey NAME+KEYID+BASE64")
            }
            guard type == Self.noteSignature || type == Self.cosignatureV1, raw.count == 33,
                  let key = try? SigningPublicKey(rawRepresentation: Array(raw.dropFirst())) else {
                throw .malformed("vkey \(parts[0]): only Ed25519 keys (type 0x01 or 0x04) are supported")
            }
            self.init(name: String(parts[0]), type: type, publicKey: key)
            guard keyID == id else { throw .malformed("vkey \(parts[0]): key ID \(parts[1]) does not match its key") }
        }

        /// The vkey as text.
        public var text: String { "\(name)+\(keyID.hexString)+\(Data([type] + publicKey.rawRepresentation).base64EncodedString())" }
    }

    /// A witness or a group, as a quorum or a group member names it.
    indirect enum Rule: Sendable {
        case witness(Int)
        case group(threshold: Int, members: [Rule])
    }

    public private(set) var logs: [VerifierKey] = []
    public private(set) var witnesses: [(name: String, key: VerifierKey)] = []
    /// nil: `quorum none`.
    var quorum: Rule?

    /// A policy of `logs` and witnesses in groups (one per operator: any of its keys
    /// counts once), with a quorum of `threshold` of the groups (0: `quorum none`). This is
    /// how a node judges a peer's proofs from its certificate folder.
    public init(logs: [VerifierKey], witnessGroups: [(center: String, keys: [VerifierKey])], threshold: Int) {
        self.logs = logs
        var groups: [Rule] = []
        for group in witnessGroups {
            var members: [Rule] = []
            for (n, key) in group.keys.enumerated() {
                members.append(.witness(witnesses.count))
                witnesses.append((n == 0 ? group.center : "\(group.center)-\(n + 1)", key))
            }
            groups.append(.group(threshold: 1, members: members))
        }
        quorum = threshold == 0 ? nil : .group(threshold: threshold, members: groups)
    }

    /// Reads a policy file, as the specification defines its lines.
    public init(parsing bytes: [UInt8]) throws(LogProofError) {
        guard bytes.count <= 1 << 20 else { throw .malformed("a policy larger than 1 MiB") }
        guard bytes.allSatisfy({ $0 == 0x09 || $0 == 0x0A || (0x20...0x7E).contains($0) || $0 >= 0x80 }) else {
            throw .malformed("the policy holds a control character other than tab and newline")
        }
        var names: [String: Rule] = [:]
        var sawQuorum = false
        for (number, raw) in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = words.first, !keyword.hasPrefix("#") else { continue }
            func fail(_ why: String) -> LogProofError { .malformed("policy line \(number + 1): \(why)") }
            func define(_ name: Substring, _ rule: Rule) throws(LogProofError) {
                guard name != "none", names[String(name)] == nil else { throw fail("\(name) is defined twice (or is \"none\")") }
                names[String(name)] = rule
            }
            switch keyword {
            case "log":
                guard words.count == 2 || words.count == 3 else { throw fail("log <vkey> [<url>]") }
                let key = try VerifierKey(parsing: words[1])
                guard key.type == VerifierKey.noteSignature else { throw fail("a log's vkey must be a note signature key (type 0x01)") }
                // One key may sign under several origins (a log's epochs), never one twice or as a witness's.
                guard !witnesses.contains(where: { $0.key.publicKey == key.publicKey }),
                      !logs.contains(where: { $0.publicKey == key.publicKey && $0.name == key.name }) else { throw fail("duplicate key") }
                logs.append(key)
            case "witness":
                guard words.count == 3 || words.count == 4 else { throw fail("witness <name> <vkey> [<url>]") }
                let key = try VerifierKey(parsing: words[2])
                guard key.type == VerifierKey.cosignatureV1 else { throw fail("a witness's vkey must be a cosignature/v1 key (type 0x04)") }
                guard !isKnown(key.publicKey) else { throw fail("duplicate key") }
                try define(words[1], .witness(witnesses.count))
                witnesses.append((String(words[1]), key))
            case "group":
                guard words.count >= 4 else { throw fail("group <name> all|any|<k> <name>...") }
                let members = words.dropFirst(3)
                guard Set(members).count == members.count else { throw fail("a member is listed twice") }
                let rules = try members.map { member throws(LogProofError) in
                    guard let rule = names[String(member)] else { throw fail("\(member) is not defined above") }
                    return rule
                }
                let threshold: Int
                switch words[2] {
                case "all": threshold = rules.count
                case "any": threshold = 1
                default:
                    guard let k = Int(words[2]), String(k) == words[2], 1 <= k, k <= rules.count else { throw fail("k must be 1...\(rules.count)") }
                    threshold = k
                }
                try define(words[1], .group(threshold: threshold, members: rules))
            case "quorum":
                guard words.count == 2, !sawQuorum else { throw fail("exactly one quorum <name> line") }
                if words[1] != "none" {
                    guard let rule = names[String(words[1])] else { throw fail("\(words[1]) is not defined above") }
                    quorum = rule
                }
                sawQuorum = true
            default:
                throw fail("unknown keyword \(keyword)")
            }
        }
        guard sawQuorum else { throw .malformed("the policy has no quorum line") }
    }

    private func isKnown(_ key: SigningPublicKey) -> Bool {
        logs.contains { $0.publicKey == key } || witnesses.contains { $0.key.publicKey == key }
    }

    /// Checks `note`: signed by a log of this policy whose key name is its origin, and
    /// cosigned by witnesses meeting the quorum. A cosignature line by a witness of the
    /// policy that does not verify makes the whole note refused. Returns the checkpoint and
    /// the witnesses (policy names) whose cosignatures counted.
    public func verify(_ note: SignedNote, options: Cosignature.VerifyOptions = Cosignature.VerifyOptions())
        throws(LogProofError) -> (Checkpoint, [(witness: String, timestamp: UInt64)]) {
        let checkpoint: Checkpoint
        do { checkpoint = try note.checkpoint() } catch { throw .malformed("\(error)") }
        let logKeys = logs.filter { $0.name == checkpoint.origin }
        guard !logKeys.isEmpty else { throw .invalid("the policy lists no log for the origin \(checkpoint.origin)") }
        let checks = logKeys.map { Checkpoint.signatureCheck(of: note, name: $0.name, publicKey: $0.publicKey) }
        guard !checks.contains(false) else { throw .invalid("the log's signature on the checkpoint does not verify") }
        guard checks.contains(true) else { throw .invalid("the checkpoint has no signature by the log \(checkpoint.origin)") }
        let ownWitness = Self.ownWitnessName(ofOrigin: checkpoint.origin)
        var counted = Set<Int>()
        var cosignatures: [(witness: String, timestamp: UInt64)] = []
        for (i, witness) in witnesses.enumerated() {
            guard witness.key.name != ownWitness, !logKeys.contains(where: { $0.publicKey == witness.key.publicKey }) else { continue }
            do {
                let cosignature = try Cosignature.verify(note: note, name: witness.key.name, publicKey: witness.key.publicKey, options: options)
                counted.insert(i)
                cosignatures.append((witness.name, cosignature.timestamp))
            } catch .noCosignature {
                continue
            } catch {
                throw .invalid("witness \(witness.name): \(error)")
            }
        }
        if let quorum, !Self.isMet(quorum, by: counted) {
            throw .invalid("the quorum is not met: \(cosignatures.count) valid cosignature(s) by the policy's witnesses (\(cosignatures.map(\.witness).joined(separator: ", ")))")
        }
        return (checkpoint, cosignatures)
    }

    /// "iias:center:AZ/witness" for the origin "iias:center:AZ/log": the key that never
    /// counts for that log. nil for origins of other logs.
    static func ownWitnessName(ofOrigin origin: String) -> String? {
        guard origin.hasPrefix("iias:center:"), origin.hasSuffix("/log") else { return nil }
        return Cosignature.name(center: String(origin.dropFirst(12).dropLast(4)))
    }

    /// The earliest time by which witnesses meeting the quorum had all cosigned, by their
    /// own clocks: the time the quorum vouches for, not one witness alone (a single clock
    /// set back cannot move it). With `quorum none`, the earliest cosignature; nil when the
    /// cosignatures given do not meet the quorum.
    public func attestedTime(of cosignatures: [(witness: String, timestamp: UInt64)]) -> UInt64? {
        let timed = cosignatures.compactMap { cosignature in
            witnesses.firstIndex { $0.name == cosignature.witness }.map { ($0, cosignature.timestamp) }
        }.sorted { $0.1 < $1.1 }
        guard let quorum else { return timed.first?.1 }
        var counted = Set<Int>()
        for (index, timestamp) in timed {
            counted.insert(index)
            if Self.isMet(quorum, by: counted) { return timestamp }
        }
        return nil
    }

    static func isMet(_ rule: Rule, by counted: Set<Int>) -> Bool {
        switch rule {
        case .witness(let i): counted.contains(i)
        case .group(let threshold, let members): members.filter { isMet($0, by: counted) }.count >= threshold
        }
    }
}
