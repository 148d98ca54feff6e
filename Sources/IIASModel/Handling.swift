/// How recipients may use and pass on a notification: a TLP 2.0 label for sharing,
/// SIENA-style handling codes for use, and an optional national classification.
/// Recipients' nodes display it; honouring it is the recipients' legal duty.
public struct Handling: Codable, Sendable, Hashable {
    public var tlp: TLP
    /// Unique; empty when no handling code applies.
    public var codes: [HandlingCode]
    /// The free-text restrictions that `H3` announces: required with `H3`, refused without it.
    public var restrictions: String?
    /// The sender's national marking (e.g. "SECRET", "DSP"), 1 to 64 characters, shown as is.
    public var classification: String?

    public init(tlp: TLP, codes: [HandlingCode] = [], restrictions: String? = nil, classification: String? = nil) {
        self.tlp = tlp
        self.codes = codes
        self.restrictions = restrictions
        self.classification = classification
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Handling.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// Traffic Light Protocol 2.0 (FIRST): who the recipients may share the notification with.
public enum TLP: String, Codable, Sendable, CaseIterable {
    /// For the named recipients only; no further disclosure.
    case red = "TLP:RED"
    /// Recipients' own organization only, on a need-to-know basis.
    case amberStrict = "TLP:AMBER+STRICT"
    /// Recipients' organization and its clients on a need-to-know basis.
    case amber = "TLP:AMBER"
    /// The recipients' community, not public channels.
    case green = "TLP:GREEN"
    /// No limit on disclosure.
    case clear = "TLP:CLEAR"
}

/// Europol SIENA handling codes: what recipients may do with the information.
public enum HandlingCode: String, Codable, Sendable, CaseIterable {
    /// H0: for law-enforcement purposes only.
    case h0 = "H0"
    /// H1: not to be used as evidence in court without the sender's permission.
    case h1 = "H1"
    /// H2: not to be passed on to anyone else without the sender's permission.
    case h2 = "H2"
    /// H3: other restrictions, spelled out in `Handling.restrictions`.
    case h3 = "H3"
}

extension Handling {
    static let fields: Set<String> = ["tlp", "codes", "restrictions", "classification"]

    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Handling? {
        let before = reader.problemCount
        guard let object = reader.object(value, at: path, allowed: fields) else { return nil }
        let tlp = object.required("tlp") { reader.choice($0, at: $1, TLP.self) }
        let codes = object.optional("codes") { v, p in
            reader.array(v, at: p, count: 0...4, unique: true) { reader.choice($0, at: $1, HandlingCode.self) }
        }
        let restrictions = object.optional("restrictions") { reader.text($0, at: $1, length: 1...1000, characters: .any) }
        let classification = object.optional("classification") { reader.text($0, at: $1, length: 1...64) }
        let hasH3 = codes?.contains(.h3) ?? false
        if hasH3, !object.has("restrictions") {
            reader.report(JSONPointer.appending(path, "restrictions"), "required when codes include H3 (spell out the restrictions)")
        }
        let codesReadable = codes != nil || !object.has("codes")
        if codesReadable, !hasH3, object.has("restrictions") {
            reader.report(JSONPointer.appending(path, "restrictions"), "allowed only with handling code H3")
        }
        guard reader.problemCount == before, let tlp else { return nil }
        return Handling(tlp: tlp, codes: codes ?? [], restrictions: restrictions, classification: classification)
    }

    var json: JSONValue {
        .members([
            "tlp": .string(tlp.rawValue),
            "codes": .array(codes.map { .string($0.rawValue) }),
            "restrictions": restrictions.map(JSONValue.string),
            "classification": classification.map(JSONValue.string),
        ])
    }
}
