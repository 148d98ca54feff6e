/// A means of transport, from a car to a vessel or an aircraft.
public struct Vehicle: Codable, Sendable, Hashable {
    public var id: String
    public var kind: VehicleKind
    /// Number plate, hull or tail registration as written; 1 to 32 characters.
    public var registration: String?
    /// ISO 3779 vehicle identification number: 17 characters, no I, O or Q.
    public var vin: String?
    public var make: String?
    public var model: String?
    public var color: String?
    /// The state of registration: the flag state for vessels and aircraft.
    public var flagCountry: CountryCode?

    public init(
        id: String, kind: VehicleKind, registration: String? = nil, vin: String? = nil,
        make: String? = nil, model: String? = nil, color: String? = nil, flagCountry: CountryCode? = nil
    ) {
        self.id = id
        self.kind = kind
        self.registration = registration
        self.vin = vin
        self.make = make
        self.model = model
        self.color = color
        self.flagCountry = flagCountry
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, Vehicle.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

public enum VehicleKind: String, Codable, Sendable, CaseIterable {
    case car, truck, bus, vessel, aircraft, rail, other
}

extension Vehicle {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> Vehicle? {
        let before = reader.problemCount
        let fields: Set<String> = ["kind", "registration", "vin", "make", "model", "color", "flagCountry"]
        guard case let (object, id)? = reader.entity(value, at: path, fields: fields) else { return nil }
        let kind = object.required("kind") { reader.choice($0, at: $1, VehicleKind.self) }
        let registration = object.optional("registration") { reader.text($0, at: $1, length: 1...32) }
        let vin = object.optional("vin") { reader.token($0, at: $1, expected: "a 17-character VIN (A-Z without I, O, Q; 0-9)", isVIN) }
        let make = object.optional("make") { reader.text($0, at: $1, length: 1...64) }
        let model = object.optional("model") { reader.text($0, at: $1, length: 1...64) }
        let color = object.optional("color") { reader.text($0, at: $1, length: 1...64) }
        let flag = object.optional("flagCountry") { reader.country($0, at: $1) }
        guard reader.problemCount == before, let id, let kind else { return nil }
        return Vehicle(id: id, kind: kind, registration: registration, vin: vin, make: make, model: model, color: color, flagCountry: flag)
    }

    static func isVIN(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.count == 17 && bytes.allSatisfy { b in
            (0x30...0x39).contains(b) || ((0x41...0x5A).contains(b) && b != 0x49 && b != 0x4F && b != 0x51)
        }
    }

    var json: JSONValue {
        .members([
            "id": .string(id),
            "kind": .string(kind.rawValue),
            "registration": registration.map(JSONValue.string),
            "vin": vin.map(JSONValue.string),
            "make": make.map(JSONValue.string),
            "model": model.map(JSONValue.string),
            "color": color.map(JSONValue.string),
            "flagCountry": flagCountry.map { .string($0.rawValue) },
        ])
    }
}
