/// A group, company or network: a criminal organization, a front company, a charity.
public struct Organization: Codable, Sendable, Hashable {
    public var id: String
    public var name: String
    /// Other names and spellings; at most 20.
    public var aliases: [String]
    /// Where it is based or registered.
    public var country: CountryCode?

    public init(id: String, name: String, aliases: [String] = [], country: CountryCode? = nil) {
        self.id = id
        self.name = name
        self.aliases = aliases
        self.country = country
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Organization.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension Organization {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Organization? {
        let before = reader.problemCount
        guard case let (object, id)? = reader.entity(value, at: path, fields: ["name", "aliases", "country"]) else { return nil }
        let name = object.required("name") { reader.name($0, at: $1) }
        let aliases = object.optional("aliases") { reader.names($0, at: $1) }
        let country = object.optional("country") { reader.country($0, at: $1) }
        guard reader.problemCount == before, let id, let name else { return nil }
        return Organization(id: id, name: name, aliases: aliases ?? [], country: country)
    }

    var json: JSONValue {
        .members([
            "id": .string(id),
            "name": .string(name),
            "aliases": .array(aliases.map(JSONValue.string)),
            "country": country.map { .string($0.rawValue) },
        ])
    }
}
