import Foundation

/// A formalized notification: the structured message one national center sends to
/// others about a threat, and the plaintext that the envelope signs and encrypts.
///
/// The JSON form is the contract between centers and is published as a JSON Schema
/// (`notification.schema.json`, see `Notification.jsonSchemaURL`). `parse` accepts
/// exactly what the schema accepts, and additionally checks what a schema cannot say
/// (the sender is not a recipient, entity ids are unique, a document's holder exists,
/// deadlines come after creation, nothing references itself).
///
/// Dates keep millisecond precision: setting one drops anything finer, so that
/// `try Notification.parse(n.encoded()) == n` for every valid `n`.
public struct Notification: Codable, Sendable, Equatable {
    /// The format version; a reader refuses versions it does not know rather than guess.
    public var version: Int { didSet { checkedAsIs = false } }
    public var id: UUID { didSet { checkedAsIs = false } }
    public var sender: CenterID { didSet { checkedAsIs = false } }
    /// 1 to 64 distinct centers, not including the sender.
    public var recipients: [CenterID] { didSet { checkedAsIs = false } }
    public var created: Date { didSet { checkedAsIs = false; created = created.truncatedToMilliseconds } }
    public var kind: Kind { didSet { checkedAsIs = false } }
    public var category: Category { didSet { checkedAsIs = false } }
    public var priority: Priority { didSet { checkedAsIs = false } }
    public var handling: Handling { didSet { checkedAsIs = false } }
    public var evaluation: Evaluation? { didSet { checkedAsIs = false } }
    /// One line, 1 to 200 characters: what an inbox lists.
    public var subject: String { didSet { checkedAsIs = false } }
    /// The substance, 1 to 20 000 characters, line breaks allowed.
    public var summary: String { didSet { checkedAsIs = false } }
    /// At most 500, with distinct ids.
    public var entities: [Entity] { didSet { checkedAsIs = false } }
    /// What the sender asks the recipients to do; 1 to 2000 characters.
    public var requestedAction: String? { didSet { checkedAsIs = false } }
    /// Earlier notifications this one is about; an update or cancellation must name at least one.
    public var references: [UUID] { didSet { checkedAsIs = false } }
    /// The notification this one answers; a reply must carry it.
    public var inReplyTo: UUID? { didSet { checkedAsIs = false } }
    /// After this the information should no longer be acted on; later than `created`.
    public var validUntil: Date? { didSet { checkedAsIs = false; validUntil = validUntil?.truncatedToMilliseconds } }
    /// When an answer is due; a request must carry it; later than `created`.
    public var responseDeadline: Date? { didSet { checkedAsIs = false; responseDeadline = responseDeadline?.truncatedToMilliseconds } }
    /// At most 32 file descriptions; the files travel separately.
    public var attachments: [Attachment] { didSet { checkedAsIs = false } }

    /// This value, as it is now, passed every check (`checked`): sealing it then only
    /// writes it. Any change clears the mark (every stored property's `didSet` — a new
    /// property needs one too); it is not part of the value (`==`, JSON). A recipient
    /// checks every notification it opens whatever the sender's build did.
    var checkedAsIs: CheckedMark = false

    /// The version this library writes and the only one it reads.
    public static let currentVersion = 1
    /// Documents larger than this (1 MiB) are refused before parsing.
    public static let maximumEncodedSize = 1024 * 1024

    public init(
        version: Int = Notification.currentVersion,
        id: UUID = .random(),
        sender: CenterID,
        recipients: [CenterID],
        created: Date = Date(),
        kind: Kind = .notification,
        category: Category,
        priority: Priority = .routine,
        handling: Handling,
        evaluation: Evaluation? = nil,
        subject: String,
        summary: String,
        entities: [Entity] = [],
        requestedAction: String? = nil,
        references: [UUID] = [],
        inReplyTo: UUID? = nil,
        validUntil: Date? = nil,
        responseDeadline: Date? = nil,
        attachments: [Attachment] = []
    ) {
        self.version = version
        self.id = id
        self.sender = sender
        self.recipients = recipients
        self.created = created.truncatedToMilliseconds
        self.kind = kind
        self.category = category
        self.priority = priority
        self.handling = handling
        self.evaluation = evaluation
        self.subject = subject
        self.summary = summary
        self.entities = entities
        self.requestedAction = requestedAction
        self.references = references
        self.inReplyTo = inReplyTo
        self.validUntil = validUntil?.truncatedToMilliseconds
        self.responseDeadline = responseDeadline?.truncatedToMilliseconds
        self.attachments = attachments
    }

    /// Parses JSON bytes strictly and validates; throws `NotificationInvalid` listing
    /// every problem. Input over `maximumEncodedSize` is refused without being parsed.
    public static func parse(_ json: some Collection<UInt8>) throws(NotificationInvalid) -> Notification {
        guard json.count <= maximumEncodedSize else {
            throw NotificationInvalid(problems: [ValidationProblem(
                path: "", message: "document is \(json.count) bytes; the limit is \(maximumEncodedSize)")])
        }
        let parsed: JSONParser.Result
        do {
            parsed = try JSONParser.parse(Array(json))
        } catch {
            throw NotificationInvalid(problems: [ValidationProblem(path: "", message: error.message)])
        }
        return try checked(parsed)
    }

    /// A document the strict parser already read (with the keys it found twice), checked
    /// as `parse` checks bytes: for callers that edit the tree before it becomes a
    /// notification and should not write and parse it again.
    package static func checked(_ parsed: JSONParser.Result) throws(NotificationInvalid) -> Notification {
        let reader = DocumentReader()
        for path in parsed.duplicateKeys {
            reader.report(path, "field appears more than once")
        }
        let notification = read(parsed.value, reader)
        guard var notification, reader.problems.isEmpty else {
            throw NotificationInvalid(problems: reader.problems)
        }
        notification.checkedAsIs = true
        return notification
    }

    /// Semantic checks on an in-memory value; `[]` when valid. Runs the same rules as
    /// `parse`, on the value's JSON form, so the two can never disagree.
    public func validate() -> [ValidationProblem] { Self.problems(of: json) }

    /// `encoded()` of a valid notification, or its problems: what sealing needs, from one
    /// JSON form of the value instead of one for `validate()` and another for `encoded()`.
    /// A value fresh from `parse` (or the router's `checked`) is not checked a second time.
    package func validatedEncoding() -> Result<[UInt8], NotificationInvalid> {
        let json = self.json
        if checkedAsIs.isSet { return .success(JSONWriter.bytes(json)) }
        let problems = Self.problems(of: json)
        return problems.isEmpty ? .success(JSONWriter.bytes(json)) : .failure(NotificationInvalid(problems: problems))
    }

    private static func problems(of json: JSONValue) -> [ValidationProblem] {
        let reader = DocumentReader()
        _ = read(json, reader)
        return reader.problems
    }

    /// Deterministic JSON: keys sorted, no whitespace, RFC 3339 UTC dates, lower-case
    /// UUIDs, `/` not escaped, absent optionals and empty arrays left out. Equal values
    /// give equal bytes.
    public func encoded() -> Data {
        Data(JSONWriter.bytes(json))
    }

    /// The published JSON Schema (draft 2020-12) for this format, for tools and other
    /// implementations; `nil` only if the resource bundle is missing.
    public static var jsonSchemaURL: URL? {
        Bundle.module.url(forResource: "notification.schema", withExtension: "json")
    }

    /// Decodes through the same strict reader as `parse`; the problems become the
    /// `DecodingError`'s description.
    public init(from decoder: any Decoder) throws {
        self = try decodeValidated(decoder) { value, _, reader in Notification.read(value, reader) }
    }

    /// Encodes the same tree as `encoded()`: dates as RFC 3339 strings, whatever the
    /// encoder's date strategy.
    public func encode(to encoder: any Encoder) throws { try json.encode(to: encoder) }
}

/// A mark carried beside a value that is not part of it: any two are equal.
struct CheckedMark: Sendable, Equatable, ExpressibleByBooleanLiteral {
    var isSet: Bool
    init(booleanLiteral value: Bool) { isSet = value }
    static func == (_: CheckedMark, _: CheckedMark) -> Bool { true }
}

/// The same type under a name that Foundation does not also use: in a file that imports
/// both Foundation and IIASModel, a bare `Notification` is ambiguous.
public typealias FormalNotification = Notification
