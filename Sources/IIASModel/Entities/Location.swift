/// A place named in a notification (the `"location"` entity type): a border crossing,
/// an address, a meeting point. It has at least one of name, country, coordinates.
public struct Location: Codable, Sendable, Hashable {
    public var id: String
    public var place: Place

    public init(id: String, place: Place) {
        self.id = id
        self.place = place
    }

    public init(id: String, name: String? = nil, country: CountryCode? = nil, coordinates: Coordinates? = nil) {
        self.init(id: id, place: Place(name: name, country: country, coordinates: coordinates))
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Location.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// Where something is: at least one of a name, a country and coordinates. Used by
/// location entities (with an id) and by route points (without).
public struct Place: Codable, Sendable, Hashable {
    /// A name or address as written; 1 to 200 characters.
    public var name: String?
    public var country: CountryCode?
    public var coordinates: Coordinates?

    public init(name: String? = nil, country: CountryCode? = nil, coordinates: Coordinates? = nil) {
        self.name = name
        self.country = country
        self.coordinates = coordinates
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Place.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// WGS 84 degrees, as GPS and maps give them.
public struct Coordinates: Codable, Sendable, Hashable {
    /// −90 through 90.
    public var latitude: Double
    /// −180 through 180.
    public var longitude: Double

    public init(latitude: Double, longitude: Double) {
        self.latitude = latitude
        self.longitude = longitude
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Coordinates.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

extension Location {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Location? {
        let before = reader.problemCount
        guard case let (object, id)? = reader.entity(value, at: path, fields: Place.fields) else { return nil }
        let place = Place.readMembers(object, reader)
        guard reader.problemCount == before, let id, let place else { return nil }
        return Location(id: id, place: place)
    }

    var json: JSONValue {
        guard case .object(var members) = place.json else { return place.json }
        members["id"] = .string(id)
        return .object(members)
    }
}

extension Place {
    static let fields: Set<String> = ["name", "country", "coordinates"]

    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Place? {
        guard let object = reader.object(value, at: path, allowed: fields) else { return nil }
        return readMembers(object, reader)
    }

    static func readMembers(_ object: ObjectReader, _ reader: DocumentReader) -> Place? {
        let before = reader.problemCount
        let name = object.optional("name") { reader.text($0, at: $1, length: 1...200) }
        let country = object.optional("country") { reader.country($0, at: $1) }
        let coordinates = object.optional("coordinates") { Coordinates.read($0, at: $1, reader) }
        if !fields.contains(where: object.has) {
            reader.report(object.path, "must have at least one of name, country, coordinates")
        }
        guard reader.problemCount == before else { return nil }
        return Place(name: name, country: country, coordinates: coordinates)
    }

    var json: JSONValue {
        .members([
            "name": name.map(JSONValue.string),
            "country": country.map { .string($0.rawValue) },
            "coordinates": coordinates.map(\.json),
        ])
    }
}

extension Coordinates {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Coordinates? {
        let before = reader.problemCount
        guard let object = reader.object(value, at: path, allowed: ["latitude", "longitude"]) else { return nil }
        let latitude = object.required("latitude") { reader.number($0, at: $1, range: -90...90) }
        let longitude = object.required("longitude") { reader.number($0, at: $1, range: -180...180) }
        guard reader.problemCount == before, let latitude, let longitude else { return nil }
        return Coordinates(latitude: latitude, longitude: longitude)
    }

    var json: JSONValue { .members(["latitude": .double(latitude), "longitude": .double(longitude)]) }
}
