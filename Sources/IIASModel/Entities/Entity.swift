/// Something a notification is about, typed so that receiving centers can match it
/// against their own records (a person by name and date of birth, a vehicle by VIN…).
///
/// In JSON each entity is an object whose `"type"` says which case it is. Every entity
/// has an `id` unique within its notification, so that other entities can point at it
/// (a document's `holder`) and later updates can name it.
public enum Entity: Codable, Sendable, Hashable {
    case person(Person)
    case organization(Organization)
    case vehicle(Vehicle)
    case document(IdentityDocument)
    case location(Location)
    case route(Route)

    /// The document-local id, `[a-z0-9-]{1,40}`.
    public var id: String {
        switch self {
        case .person(let e): e.id
        case .organization(let e): e.id
        case .vehicle(let e): e.id
        case .document(let e): e.id
        case .location(let e): e.id
        case .route(let e): e.id
        }
    }

    /// The `"type"` discriminator in JSON.
    public enum EntityType: String, Sendable, CaseIterable {
        case person, organization, vehicle, document, location, route
    }

    public var type: EntityType {
        switch self {
        case .person: .person
        case .organization: .organization
        case .vehicle: .vehicle
        case .document: .document
        case .location: .location
        case .route: .route
        }
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Entity.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension Entity {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Entity? {
        guard case .object(let members) = value else {
            reader.report(path, "expected an object, found \(value.typeName)")
            return nil
        }
        let typePath = JSONPointer.appending(path, "type")
        guard let typeValue = members["type"] else {
            reader.report(typePath, "required field is missing")
            return nil
        }
        guard let type = reader.choice(typeValue, at: typePath, EntityType.self) else { return nil }
        switch type {
        case .person: return Person.read(value, at: path, reader).map(Entity.person)
        case .organization: return Organization.read(value, at: path, reader).map(Entity.organization)
        case .vehicle: return Vehicle.read(value, at: path, reader).map(Entity.vehicle)
        case .document: return IdentityDocument.read(value, at: path, reader).map(Entity.document)
        case .location: return Location.read(value, at: path, reader).map(Entity.location)
        case .route: return Route.read(value, at: path, reader).map(Entity.route)
        }
    }

    var json: JSONValue {
        let body: JSONValue
        switch self {
        case .person(let e): body = e.json
        case .organization(let e): body = e.json
        case .vehicle(let e): body = e.json
        case .document(let e): body = e.json
        case .location(let e): body = e.json
        case .route(let e): body = e.json
        }
        guard case .object(var members) = body else { return body }
        members["type"] = .string(type.rawValue)
        return .object(members)
    }
}

extension DocumentReader {
    /// An entity's object, allowing `type`, `id` and `fields`; also reads the id.
    func entity(_ value: JSONValue, at path: String, fields: Set<String>) -> (ObjectReader, String?)? {
        guard let object = object(value, at: path, allowed: fields.union(["type", "id"])) else { return nil }
        let id = object.required("id") { localID($0, at: $1) }
        return (object, id)
    }

    /// A person's or organization's name or alias: one line, 1 to 200 characters.
    func name(_ value: JSONValue, at path: String) -> String? {
        text(value, at: path, length: 1...200)
    }

    func names(_ value: JSONValue, at path: String) -> [String]? {
        array(value, at: path, count: 0...20) { name($0, at: $1) }
    }
}
