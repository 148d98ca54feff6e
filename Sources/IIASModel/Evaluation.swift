/// The 4x4 evaluation (Europol, EU Council Decision 2009/371/JHA): how far the source
/// is trusted and how far the information is confirmed, judged separately so that a
/// reliable source passing on hearsay is not mistaken for confirmed fact.
public struct Evaluation: Codable, Sendable, Hashable {
    public var sourceReliability: SourceReliability
    public var informationAccuracy: InformationAccuracy

    public init(sourceReliability: SourceReliability, informationAccuracy: InformationAccuracy) {
        self.sourceReliability = sourceReliability
        self.informationAccuracy = informationAccuracy
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Evaluation.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// The source half of the 4x4 scheme.
public enum SourceReliability: String, Codable, Sendable, CaseIterable {
    /// A: no doubt about authenticity, trustworthiness and competence, or always reliable.
    case a = "A"
    /// B: information from this source has in most instances proved reliable.
    case b = "B"
    /// C: information from this source has in most instances proved unreliable.
    case c = "C"
    /// X: reliability cannot be assessed.
    case x = "X"
}

/// The information half of the 4x4 scheme.
public enum InformationAccuracy: Int, Codable, Sendable, CaseIterable {
    /// 1: accuracy not in doubt.
    case certain = 1
    /// 2: known personally to the source but not to the official passing it on.
    case knownToSource = 2
    /// 3: not known personally to the source but corroborated by information already recorded.
    case corroborated = 3
    /// 4: not known personally to the source and cannot be corroborated.
    case uncorroborated = 4
}

extension Evaluation {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Evaluation? {
        let before = reader.problemCount
        guard let object = reader.object(value, at: path, allowed: ["sourceReliability", "informationAccuracy"]) else { return nil }
        let source = object.required("sourceReliability") { reader.choice($0, at: $1, SourceReliability.self) }
        let accuracy = object.required("informationAccuracy") { reader.integer($0, at: $1, range: 1...4) }
        guard reader.problemCount == before, let source, let accuracy, let info = InformationAccuracy(rawValue: accuracy) else { return nil }
        return Evaluation(sourceReliability: source, informationAccuracy: info)
    }

    var json: JSONValue {
        .members([
            "sourceReliability": .string(sourceReliability.rawValue),
            "informationAccuracy": .integer(Int64(informationAccuracy.rawValue)),
        ])
    }
}
