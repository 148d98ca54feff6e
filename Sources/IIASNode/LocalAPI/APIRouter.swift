import Foundation
import IIASAPI
import IIASModel
import Logging
import NIOHTTP1
import Synchronization

/// A request as the router sees it: the transport already bounded its size and asked the
/// kernel who sent it.
struct APIRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var body: [UInt8]?
    var tooLarge: Bool
    /// The peer's uid from SO_PEERCRED; nil if the kernel did not say (refused).
    var uid: UInt32?
    var keepAlive: Bool
}

/// What the router answers: one JSON document, or a stream of NDJSON lines.
enum APIResponse: Sendable {
    case json(HTTPResponseStatus, [UInt8])
    /// `GET /v1/events`: the connection subscribes to the node's events and writes those
    /// the filter admits as NDJSON lines.
    case events(EventFilter)
    /// Bytes that are not JSON (an attachment's ciphertext), as `application/octet-stream`.
    case octets([UInt8])
}

/// Maps routes to `NodeOperations`, checks roles, and turns every failure into a
/// status with a JSON body that says what to do.
struct APIRouter: Sendable {
    let operations: any NodeOperations
    /// The allow-list (`api.users`), replaced on SIGHUP.
    let access: APIAccess
    let center: CenterID
    /// What a request without a deadline gets (`parseDraft`).
    var requestDeadlines = RequestDeadlines()
    let logger: Logger

    func handle(_ request: APIRequest) async -> APIResponse {
        // Checked again against the list as it stands now: SIGHUP may have removed the
        // user since their connection was let in.
        let door = access.decide(uid: request.uid)
        guard let actor = door.actor else { return refuse(door) }
        let user = actor.user, role = actor.role
        if request.tooLarge {
            return error(.payloadTooLarge, "the request body is larger than the node accepts", hint: "limits.maxRequestBytes in the node's configuration")
        }
        let (path, query) = Self.split(request.uri)
        let parts = path.split(separator: "/").map(String.init)
        guard parts.first == "v1" else { return error(.notFound, "no such route: \(path.prefix(100))", hint: "routes start with /v1/; see LocalAPI.md") }
        let route = Array(parts.dropFirst())
        if role == .auditor, !(request.method == .GET && (Self.readOnlyRoutes.contains(route) || ([2, 4].contains(route.count) && route[0] == "outbox"))) {
            return error(.forbidden, "\(user) is an auditor: status, peers, outbox, tree head, log entries and alarms only", hint: nil)
        }
        do {
            switch (request.method, route.count, route.first) {
            case (.POST, 1, "notifications"):
                let draft = try await parseDraft(request.body, recipientsFromAll: allPeers)
                try checkUploads(draft)
                let submission = try await operations.submit(draft, weakenHandling: try Self.flag(query["weakenHandling"], name: "weakenHandling"), by: actor)
                await attachmentsSubmitted(draft, as: submission)
                if let body = submission.fastJSON() { return .json(.created, body + [0x0A]) }
                return try json(.created, submission)
            case (.POST, 2, "notifications") where route[1] == "batch":
                var drafts: [FormalNotification] = []
                for (position, (line, draft)) in try Self.batchLines(request.body).enumerated() {
                    do { drafts.append(try await parseDraft(Array(draft), recipientsFromAll: allPeers)) } catch let problem as RequestProblem {
                        throw RequestProblem(problem.status, "notification \(position) (line \(line)): \(problem.message)", hint: problem.hint)
                    } catch NodeError.invalidNotification(let problems) {
                        throw NodeError.invalidNotification(problems.map { ValidationProblem(path: "/\(position)" + $0.path, message: $0.message) })
                    }
                }
                try drafts.forEach(checkUploads)
                let submissions = try await operations.submit(batch: drafts, by: actor)
                for (draft, submission) in zip(drafts, submissions) { await attachmentsSubmitted(draft, as: submission) }
                var body: [UInt8] = [UInt8(ascii: "[")]
                for (n, submission) in submissions.enumerated() {
                    if n > 0 { body.append(UInt8(ascii: ",")) }
                    body += try submission.fastJSON() ?? Array(APIJSON.encoder().encode(submission))
                }
                return .json(.created, body + Array("]\n".utf8))
            case (.GET, 1, "inbox"):
                return try json(.ok, await operations.inbox(try Self.filter(query), by: actor))
            case (.GET, 2, "inbox"):
                return try json(.ok, await operations.read(try Self.id(route[1]), from: try Self.sender(query), by: actor))
            case (.POST, 3, "inbox") where route[2] == "ack":
                return try json(.ok, await operations.acknowledge(try Self.id(route[1]), from: try Self.sender(query), by: actor))
            case (.POST, 3, "inbox") where route[2] == "reply":
                let id = try Self.id(route[1])
                let original = try await operations.read(id, from: try Self.sender(query), by: actor)
                let draft = try await parseDraft(request.body, recipientsFromAll: { [] }, overrides: [
                    "kind": .string("reply"), "inReplyTo": .string(id.uuidString.lowercased()),
                    "recipients": .array([.string(original.item.sender.rawValue)]),
                ])
                let weaken = try Self.flag(query["weakenHandling"], name: "weakenHandling")
                try checkUploads(draft)
                let submission = try await operations.reply(to: id, from: original.item.sender, with: draft, weakenHandling: weaken, by: actor)
                await attachmentsSubmitted(draft, as: submission)
                return try json(.created, submission)
            case (.GET, 2, "threads"):
                return try json(.ok, await operations.thread(of: try Self.id(route[1]), from: try Self.sender(query), by: actor))
            case (.GET, 1, "outbox"):
                return try json(.ok, await operations.outbox(limit: try Self.int(query["limit"], name: "limit"), by: actor))
            case (.GET, 2, "outbox"):
                return try json(.ok, await operations.delivery(of: try Self.id(route[1]), by: actor))
            case (.GET, 4, "outbox") where route[2] == "proof":
                return .octets(try await operations.receiptProof(of: try Self.id(route[1]), from: try Self.center(route[3]), by: actor))
            case (.GET, 1, "requests"):
                return try json(.ok, await operations.requests(by: actor))
            case (.GET, 2, "log") where route[1] == "entries":
                let (filter, limit) = try Self.logFilter(query)
                return try json(.ok, await operations.logEntries(filter, limit: limit, by: actor))
            case (.GET, 1, "peers"):
                return try json(.ok, await operations.peers())
            case (.GET, 1, "alarms"):
                return try json(.ok, await operations.alarms())
            case (.POST, 2, "alarms") where route[1] == "ack":
                guard let asked = try? JSONDecoder().decode(AlarmAcknowledgementRequest.self, from: Data(request.body ?? [])) else {
                    throw RequestProblem(.badRequest, "the body is not {\"key\": KEY, \"note\": TEXT}", hint: "`iias alarms ack KEY --note TEXT`")
                }
                let note = asked.note.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !note.isEmpty, note.utf8.count <= AlarmAcknowledgement.maximumNoteBytes, !note.contains(where: { $0.isNewline }) else {
                    throw RequestProblem(.unprocessableEntity, "the note must say, in one line of at most \(AlarmAcknowledgement.maximumNoteBytes) bytes, what was done about the alarm",
                                         hint: "--note \"restored from the backup of 3 May; refilled by the peers\"")
                }
                return try json(.ok, await operations.acknowledgeAlarm(asked.key, note: note, by: actor))
            case (.GET, 1, "status"):
                return try json(.ok, await operations.status())
            case (.GET, 1, "tree-head"):
                guard let head = await operations.treeHead() else { return error(.notFound, "the log is empty: no tree head yet", hint: nil) }
                return try json(.ok, head)
            case (.GET, 1, "events"):
                let filter: EventFilter
                do { filter = try EventFilter(query: query) } catch {
                    return self.error(.badRequest, error.description, hint: "one or more of \(error.allowed.joined(separator: ", ")), comma-separated")
                }
                // Logged before the stream opens: it carries received notifications' subjects.
                try await operations.recordSubscription(filter, by: actor)
                return .events(filter)
            case (_, _, "attachments"):
                return try await attachmentRoute(request, route: route, query: query)
            case (_, _, "notifications"), (_, _, "inbox"), (_, _, "outbox"), (_, _, "peers"), (_, _, "status"), (_, _, "tree-head"), (_, _, "events"), (_, _, "log"), (_, _, "threads"), (_, _, "requests"):
                return error(.methodNotAllowed, "\(request.method) is not allowed on \(path.prefix(100))", hint: "see LocalAPI.md for each route's method")
            default:
                return error(.notFound, "no such route: \(path.prefix(100))", hint: "see LocalAPI.md")
            }
        } catch let problem as RequestProblem {
            return problem.response
        } catch let failure as NodeError {
            return Self.response(for: failure)
        } catch {
            return self.error(.internalServerError, "\(error)", hint: nil)
        }
    }

    /// The door's 403 for a caller it does not admit, logged (who, not what they sent; at
    /// most once every 10 s for one uid).
    func refuse(_ decision: APIDoor.Decision) -> APIResponse {
        if case .notAllowed(let user, let uid) = decision, access.shouldLogRefusal(of: uid) {
            logger.warning("local API refused a user not in the allow-list", metadata: ["user": "\(user)", "uid": "\(uid)"])
        }
        return decision.refusal ?? error(.forbidden, "refused", hint: nil)
    }

    /// What an auditor may read (besides one outbox item).
    static let readOnlyRoutes: Set<[String]> = [["status"], ["peers"], ["outbox"], ["tree-head"], ["log", "entries"], ["alarms"]]

    func allPeers() async -> [CenterID] { await operations.peers().map(\.center) }

    /// One NDJSON line of the event stream; nil if it cannot be encoded (it is then left out).
    static func eventLine(_ line: EventLine, encoder: JSONEncoder) -> [UInt8]? {
        (line.fastJSON() ?? (try? encoder.encode(line)).map { Array($0) }).map { $0 + [0x0A] }
    }

    /// A draft notification: the node fills `version`, `id`, `created`, `sender` and
    /// `kind` when absent and expands `"recipients": ["all"]` to every configured peer.
    /// Parsed and re-written with the model's own strict JSON reader and writer. The peers
    /// are asked for only when the draft says "all" (asking hops onto every link).
    func parseDraft(_ body: [UInt8]?, recipientsFromAll all: () async -> [CenterID],
                    overrides: [String: JSONValue] = [:]) async throws -> FormalNotification {
        guard let body, !body.isEmpty else {
            throw RequestProblem(.badRequest, "the request needs a JSON notification as its body", hint: "see LocalAPI.md for an example")
        }
        guard body.count <= FormalNotification.maximumEncodedSize else {
            throw RequestProblem(.payloadTooLarge, "the notification is \(body.count) bytes; the limit is \(FormalNotification.maximumEncodedSize)",
                                 hint: "shorten the summary or the entities, or send them as several notifications")
        }
        var parsed: JSONParser.Result
        do { parsed = try JSONParser.parse(body) } catch {
            throw RequestProblem(.badRequest, "the body is not JSON: \(error.message)", hint: nil)
        }
        guard case .object(var document) = parsed.value else { throw RequestProblem(.badRequest, "the body is not a JSON object", hint: nil) }
        func fill(_ key: String, _ value: @autoclosure () -> JSONValue) { if document[key] == nil { document[key] = value() } }
        fill("version", .integer(Int64(FormalNotification.currentVersion)))
        fill("id", .string(UUID.random().canonicalString))
        fill("created", .string(Timestamp.formatWithMilliseconds(Date())))
        fill("sender", .string(center.rawValue))
        fill("kind", .string("notification"))
        fill("entities", .array([]))
        try fillUploads(&document)
        if case .array(let recipients)? = document["recipients"], recipients.count == 1,
           case .string(let only) = recipients[0], only.lowercased() == "all" {
            document["recipients"] = .array(await all().map { .string($0.rawValue) })
        }
        for (key, value) in overrides { document[key] = value }
        fillDeadline(&document)
        parsed.value = .object(document)
        do { return try FormalNotification.checked(parsed) } catch {
            throw NodeError.invalidNotification(error.problems)
        }
    }

    /// A request that names no deadline gets one by its priority (`requests.deadlineHours.*`)
    /// from its creation time; a draft whose priority or creation time does not read is
    /// left for validation to refuse with its own message.
    func fillDeadline(_ document: inout [String: JSONValue]) {
        guard case .string("request")? = document["kind"], document["responseDeadline"] == nil,
              case .string(let priorityText)? = document["priority"], let priority = Priority(rawValue: priorityText),
              case .string(let createdText)? = document["created"], let created = Timestamp.parse(createdText) else { return }
        document["responseDeadline"] = .string(Timestamp.formatWithMilliseconds(created.addingTimeInterval(requestDeadlines.span(for: priority))))
    }

    func json(_ status: HTTPResponseStatus, _ value: some Encodable) throws -> APIResponse {
        .json(status, Array(try APIJSON.encoder().encode(value)) + [0x0A])
    }

    func error(_ status: HTTPResponseStatus, _ message: String, hint: String?, problems: [ValidationProblem] = []) -> APIResponse {
        Self.errorResponse(status, message, hint: hint, problems: problems)
    }

    static func errorResponse(_ status: HTTPResponseStatus, _ message: String, hint: String?, problems: [ValidationProblem] = []) -> APIResponse {
        let body = APIErrorBody(error: message, problems: problems.isEmpty ? nil : problems.map { .init(path: $0.path, message: $0.message) }, hint: hint)
        return .json(status, Array((try? APIJSON.encoder().encode(body)) ?? Data()) + [0x0A])
    }

    static func response(for failure: NodeError) -> APIResponse {
        switch failure {
        case .invalidNotification(let problems):
            errorResponse(.unprocessableEntity, "the notification is not valid", hint: "fix each field named in problems", problems: problems)
        case .unknownRecipient:
            errorResponse(.unprocessableEntity, failure.description, hint: "recipients must be configured peers (see `iias peers`), or \"all\"")
        case .notFound:
            errorResponse(.notFound, failure.description, hint: "`iias inbox` or `iias outbox` lists the ids")
        case .ambiguous(_, let senders):
            errorResponse(.conflict, failure.description,
                          hint: "name the sender: ?sender=\(senders.first?.rawValue ?? "AZ") on the API, or `iias read \(senders.first?.rawValue ?? "AZ")/ID` (or --from)")
        case .idInUse:
            errorResponse(.conflict, failure.description, hint: "leave \"id\" out of the draft and the node picks a fresh one")
        case .forbidden:
            errorResponse(.forbidden, failure.description, hint: nil)
        case .unavailable:
            errorResponse(.serviceUnavailable, failure.description, hint: "try again later; `iias status` shows the node's state")
        case .expired:
            errorResponse(.conflict, failure.description, hint: "nothing was sent; `iias status` lists what expires when")
        case .unknownAlarm:
            errorResponse(.notFound, failure.description, hint: "`iias alarms` lists the alarms and their keys")
        }
    }

    // MARK: - Parsing helpers

    struct RequestProblem: Error {
        let status: HTTPResponseStatus
        let message: String
        let hint: String?
        init(_ status: HTTPResponseStatus, _ message: String, hint: String?) {
            self.status = status
            self.message = message
            self.hint = hint
        }
        var response: APIResponse { APIRouter.errorResponse(status, message, hint: hint) }
    }

    /// The drafts of `POST /v1/notifications/batch`: one JSON object a line (NDJSON; blank
    /// lines are skipped), 1 to `Node.maximumBatch` of them.
    static func batchLines(_ body: [UInt8]?) throws -> [(line: Int, draft: ArraySlice<UInt8>)] {
        let lines = LocalAPIClient.batchDrafts(body ?? [])
        guard !lines.isEmpty else {
            throw RequestProblem(.badRequest, "the request needs drafts as its body, one JSON object a line", hint: "see LocalAPI.md for an example")
        }
        guard lines.count <= Node.maximumBatch else {
            throw RequestProblem(.payloadTooLarge, "the batch holds \(lines.count) drafts; the limit is \(Node.maximumBatch)",
                                 hint: "send them as several batches")
        }
        return lines
    }

    static func split(_ uri: String) -> (String, [String: String]) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, [:]) }
        var query: [String: String] = [:]
        for pair in uri[uri.index(after: mark)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            query[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return (String(uri[..<mark]), query)
    }

    static func id(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw RequestProblem(.badRequest, "\(text.prefix(60)) is not a notification id (a UUID)", hint: nil) }
        return id
    }

    /// `?sender=AZ` on the routes that name one received notification: which center's
    /// notification the id is (ids are unique per sender only); nil when not given.
    static func center(_ text: String) throws -> CenterID {
        guard let center = CenterID(rawValue: text) else { throw RequestProblem(.badRequest, "\(text.prefix(40)) is not a center id", hint: "e.g. GE or UA-SBU") }
        return center
    }

    static func sender(_ query: [String: String]) throws -> CenterID? {
        guard let text = query["sender"] else { return nil }
        guard let sender = CenterID(rawValue: text) else {
            throw RequestProblem(.badRequest, "sender: \(text.prefix(40)) is not a center id", hint: "e.g. ?sender=AZ or ?sender=UA-SBU")
        }
        return sender
    }

    /// A yes/no query parameter: absent or `false` is no, `true` is yes; anything else is refused.
    static func flag(_ text: String?, name: String) throws -> Bool {
        switch text {
        case nil, "false": return false
        case "true": return true
        default: throw RequestProblem(.badRequest, "\(name) must be true or false, found \(text!.prefix(20))", hint: "e.g. ?\(name)=true")
        }
    }

    static func int(_ text: String?, name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value > 0, value <= 1_000_000 else {
            throw RequestProblem(.badRequest, "\(name) must be a whole number 1…1000000, found \(text.prefix(20))", hint: nil)
        }
        return value
    }

    static func filter(_ query: [String: String]) throws -> InboxFilter {
        var filter = InboxFilter()
        for (key, value) in query {
            switch key {
            case "category":
                guard let category = Category(rawValue: value) else { throw RequestProblem(.badRequest, "category: unknown \(value.prefix(40))", hint: "one of \(Category.allCases.map(\.rawValue).joined(separator: ", "))") }
                filter.category = category
            case "priority":
                guard let priority = Priority(rawValue: value) else { throw RequestProblem(.badRequest, "priority: unknown \(value.prefix(40))", hint: "flash, urgent or routine") }
                filter.priority = priority
            case "sender":
                filter.sender = try sender(query)
            case "unread":
                guard value == "true" || value == "false" else { throw RequestProblem(.badRequest, "unread: true or false", hint: nil) }
                filter.unread = value == "true"
            case "since":
                filter.since = try since(value)
            case "limit":
                filter.limit = try int(value, name: "limit")
            default:
                throw RequestProblem(.badRequest, "unknown filter \(key.prefix(40))", hint: "category, priority, sender, unread, since, limit")
            }
        }
        return filter
    }

    /// A `since` filter: RFC 3339.
    static func since(_ text: String) throws -> Date {
        guard let date = Timestamp.parse(text) else { throw RequestProblem(.badRequest, "since: not an RFC 3339 time", hint: "e.g. 2026-11-24T00:00:00Z") }
        return date
    }

    /// `GET /v1/log/entries`: `type`, `since` (RFC 3339), `user` as `iias log entries`
    /// takes them, and `limit` (the newest; 1,000 unless given).
    static func logFilter(_ query: [String: String]) throws -> (LogEntryFilter, Int) {
        if let unknown = query.keys.first(where: { !["type", "since", "user", "limit"].contains($0) }) {
            throw RequestProblem(.badRequest, "unknown filter \(unknown.prefix(40))", hint: "type, since, user, limit")
        }
        do {
            return (try LogEntryFilter(type: query["type"], since: try query["since"].map(since), user: query["user"]),
                    try int(query["limit"], name: "limit") ?? 1_000)
        } catch let problem as LogEntryFilter.UnknownType {
            throw RequestProblem(.badRequest, "type: \(problem)", hint: nil)
        }
    }

    /// The account name of `uid`, from the system's user database, remembered for a few
    /// seconds: the lookup reads /etc/passwd, and every request needs it. A renamed or
    /// removed account is seen within `userNameLifetime`.
    static func userName(_ uid: UInt32) -> String? {
        let now = ContinuousClock.now
        if let known = knownUserNames.withLock({ $0[uid] }), now < known.until { return known.name }
        let name = lookUpUserName(uid)
        knownUserNames.withLock { names in
            if names.count > 256 { names.removeAll() }
            names[uid] = (name, now + userNameLifetime)
        }
        return name
    }

    static let userNameLifetime = Duration.seconds(5)
    private static let knownUserNames = Mutex<[UInt32: (name: String?, until: ContinuousClock.Instant)]>([:])

    private static func lookUpUserName(_ uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else { return nil }
        return String(cString: name)
    }
}
