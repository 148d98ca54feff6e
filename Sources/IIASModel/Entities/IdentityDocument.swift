/// A travel or identity document (the `"document"` entity type): what border and
/// migration services check first.
public struct IdentityDocument: Codable, Sendable, Hashable {
    public var id: String
    public var documentType: DocumentType
    /// The number as printed; 1 to 64 characters.
    public var number: String
    public var issuingCountry: CountryCode
    public var expires: CalendarDate?
    /// The `id` of the person entity in the same notification who holds the document.
    public var holder: String?

    public init(
        id: String, documentType: DocumentType, number: String, issuingCountry: CountryCode,
        expires: CalendarDate? = nil, holder: String? = nil
    ) {
        self.id = id
        self.documentType = documentType
        self.number = number
        self.issuingCountry = issuingCountry
        self.expires = expires
        self.holder = holder
    }

    public init(from decoder: any Decoder) throws { self = try decodeValidated(decoder, IdentityDocument.read) }
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

public enum DocumentType: String, Codable, Sendable, CaseIterable {
    case passport
    case idCard = "id-card"
    case visa
    case residencePermit = "residence-permit"
    case drivingLicence = "driving-licence"
    case other
}

extension IdentityDocument {
    static func read(_ value: JSONValue, at path: String, _ reader: DocumentReader) -> IdentityDocument? {
        let before = reader.problemCount
        let fields: Set<String> = ["documentType", "number", "issuingCountry", "expires", "holder"]
        guard case let (object, id)? = reader.entity(value, at: path, fields: fields) else { return nil }
        let type = object.required("documentType") { reader.choice($0, at: $1, DocumentType.self) }
        let number = object.required("number") { reader.text($0, at: $1, length: 1...64) }
        let issuer = object.required("issuingCountry") { reader.country($0, at: $1) }
        let expires = object.optional("expires") { reader.calendarDate($0, at: $1) }
        let holder = object.optional("holder") { reader.localID($0, at: $1) }
        guard reader.problemCount == before, let id, let type, let number, let issuer else { return nil }
        return IdentityDocument(id: id, documentType: type, number: number, issuingCountry: issuer, expires: expires, holder: holder)
    }

    var json: JSONValue {
        .members([
            "id": .string(id),
            "documentType": .string(documentType.rawValue),
            "number": .string(number),
            "issuingCountry": .string(issuingCountry.rawValue),
            "expires": expires.map { .string($0.rawValue) },
            "holder": holder.map(JSONValue.string),
        ])
    }
}
