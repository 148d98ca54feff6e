/// A natural person: suspect, victim, witness or contact.
public struct Person: Codable, Sendable, Hashable {
    public var id: String
    /// The name as the sender's records hold it, in any script.
    public var name: String
    /// Other names and spellings (transliterations differ between states); at most 20.
    public var aliases: [String]
    public var dateOfBirth: CalendarDate?
    public var nationality: CountryCode?
    public var gender: Gender?
    /// Numbers that identify the person elsewhere (national id, tax number, phone…); at most 20.
    public var identifiers: [PersonIdentifier]

    public init(
        id: String, name: String, aliases: [String] = [], dateOfBirth: CalendarDate? = nil,
        nationality: CountryCode? = nil, gender: Gender? = nil, identifiers: [PersonIdentifier] = []
    ) {
        self.id = id
        self.name = name
        self.aliases = aliases
        self.dateOfBirth = dateOfBirth
        self.nationality = nationality
        self.gender = gender
        self.identifiers = identifiers
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Person.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// Gender as recorded in identity documents (ICAO 9303 uses F, M and X/unspecified).
public enum Gender: String, Codable, Sendable, CaseIterable {
    case female, male, unknown
}

/// One identifying number and the scheme it belongs to, e.g. `national-id`, `phone`.
public struct PersonIdentifier: Codable, Sendable, Hashable {
    /// `[a-z0-9-]{1,40}`, e.g. `national-id`, `tax-id`, `phone`, `email`, `interpol-notice`.
    public var scheme: String
    /// 1 to 128 characters on one line.
    public var value: String

    public init(scheme: String, value: String) {
        self.scheme = scheme
        self.value = value
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, PersonIdentifier.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension Person {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Person? {
        let before = reader.problemCount
        let fields: Set<String> = ["name", "aliases", "dateOfBirth", "nationality", "gender", "identifiers"]
        guard case let (object, id)? = reader.entity(value, at: path, fields: fields) else { return nil }
        let name = object.required("name") { reader.name($0, at: $1) }
        let aliases = object.optional("aliases") { reader.names($0, at: $1) }
        let dateOfBirth = object.optional("dateOfBirth") { reader.calendarDate($0, at: $1) }
        let nationality = object.optional("nationality") { reader.country($0, at: $1) }
        let gender = object.optional("gender") { reader.choice($0, at: $1, Gender.self) }
        let identifiers = object.optional("identifiers") { v, p in
            reader.array(v, at: p, count: 0...20) { PersonIdentifier.read($0, at: $1, reader) }
        }
        guard reader.problemCount == before, let id, let name else { return nil }
        return Person(
            id: id, name: name, aliases: aliases ?? [], dateOfBirth: dateOfBirth,
            nationality: nationality, gender: gender, identifiers: identifiers ?? [])
    }

    var json: JSONValue {
        .members([
            "id": .string(id),
            "name": .string(name),
            "aliases": .array(aliases.map(JSONValue.string)),
            "dateOfBirth": dateOfBirth.map { .string($0.rawValue) },
            "nationality": nationality.map { .string($0.rawValue) },
            "gender": gender.map { .string($0.rawValue) },
            "identifiers": .array(identifiers.map(\.json)),
        ])
    }
}

extension PersonIdentifier {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> PersonIdentifier? {
        let before = reader.problemCount
        guard let object = reader.object(value, at: path, allowed: ["scheme", "value"]) else { return nil }
        let scheme = object.required("scheme") { reader.localID($0, at: $1) }
        let text = object.required("value") { reader.text($0, at: $1, length: 1...128) }
        guard reader.problemCount == before, let scheme, let text else { return nil }
        return PersonIdentifier(scheme: scheme, value: text)
    }

    var json: JSONValue { .members(["scheme": .string(scheme), "value": .string(value)]) }
}
