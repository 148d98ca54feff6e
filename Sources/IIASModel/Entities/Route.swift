/// A path between places (the `"route"` entity type): a smuggling corridor, a
/// migration route, a planned journey. Points are in travel order.
public struct Route: Codable, Sendable, Hashable {
    public var id: String
    /// 2 to 100 places, first to last.
    public var points: [Place]
    public var mode: TransportMode?

    public init(id: String, points: [Place], mode: TransportMode? = nil) {
        self.id = id
        self.points = points
        self.mode = mode
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Route.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

public enum TransportMode: String, Codable, Sendable, CaseIterable {
    case road, rail, sea, river, air, foot, mixed, other
}

extension Route {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Route? {
        let before = reader.problemCount
        guard case let (object, id)? = reader.entity(value, at: path, fields: ["points", "mode"]) else { return nil }
        let points = object.required("points") { v, p in
            reader.array(v, at: p, count: 2...100) { Place.read($0, at: $1, reader) }
        }
        let mode = object.optional("mode") { reader.choice($0, at: $1, TransportMode.self) }
        guard reader.problemCount == before, let id, let points else { return nil }
        return Route(id: id, points: points, mode: mode)
    }

    var json: JSONValue {
        .members(["id": .string(id), "points": .array(points.map(\.json)), "mode": mode.map { .string($0.rawValue) }])
    }
}
