import Foundation
import IIASAPI
import IIASModel
import NIOHTTP1

/// The local API's attachment routes (LocalAPI.md, "Attachments"): a file is uploaded in
/// pieces and encrypted as they arrive, named by its upload id in a draft, followed per
/// recipient; a received one is shown with its state and fetched as ciphertext, which the
/// reader opens with the key in the notification it read.
extension APIRouter {
    var attachments: AttachmentCenter? { (operations as? Node)?.attachments }

    /// The largest piece of an upload or a ciphertext read in one request.
    static let attachmentPieceBytes = 1 << 20

    func attachmentRoute(_ request: APIRequest, route: [String], query: [String: String]) async throws -> APIResponse {
        guard let attachments else { throw RequestProblem(.serviceUnavailable, "this node keeps no attachments", hint: nil) }
        switch (request.method, route.count) {
        case (.POST, 1):
            guard let bytes = try Self.count(query["bytes"], name: "bytes"), bytes >= 0 else {
                throw RequestProblem(.badRequest, "?bytes= (the file's size) is required", hint: "see LocalAPI.md, Attachments")
            }
            let id: UUID
            do { id = try attachments.beginUpload(bytes: bytes) } catch {
                let status: HTTPResponseStatus = bytes > attachments.limit ? .payloadTooLarge : .insufficientStorage
                throw RequestProblem(status, error.description, hint: bytes > attachments.limit ? "limits.maxAttachmentBytes in the node's configuration" : nil)
            }
            return try json(.created, ["upload": id.uuidString.lowercased()])
        case (.PUT, 2):
            let id = try Self.id(route[1])
            guard let upload = attachments.upload(id) else { throw RequestProblem(.notFound, "no upload \(route[1]) in progress", hint: nil) }
            let offset = try Self.count(query["offset"], name: "offset") ?? upload.received
            do { try upload.append(request.body ?? [], at: offset) } catch { throw RequestProblem(.conflict, error.description, hint: nil) }
            return try json(.ok, ["received": upload.received])
        case (.POST, 2):
            do {
                let finished = try attachments.finishUpload(try Self.id(route[1]))
                return try json(.ok, ["bytes": "\(finished.seal.plaintextSize)", "sha256": finished.seal.plaintextSHA256.hexString])
            } catch { throw RequestProblem(.conflict, "\(error)", hint: nil) }
        case (.GET, 1):
            let envelope = try Self.id(query["envelope"] ?? "")
            return try json(.ok, attachments.outgoingStates(of: envelope))
        case (.GET, 2):
            let sender = try Self.sender(query)?.rawValue ?? ""
            guard let state = attachments.incomingState(sender: sender, root: route[1]) else {
                throw RequestProblem(.notFound, "no attachment \(route[1].prefix(64)) from \(sender)", hint: "?sender= names the center that sent it")
            }
            return try json(.ok, state)
        case (.GET, 3) where route[2] == "ciphertext":
            return try ciphertext(route[1], query: query, attachments)
        default:
            return error(.methodNotAllowed, "\(request.method) is not allowed on /v1/\(route.joined(separator: "/").prefix(100))", hint: "see LocalAPI.md, Attachments")
        }
    }

    /// Up to 1 MiB of a received attachment's ciphertext from `?offset=`; only once the
    /// attachment is complete and, as a download begins (offset 0), still matches its
    /// commitment. Later pieces are not hashed again whole — that made a download's cost
    /// grow with the square of the file — since the reader checks the root and the
    /// SHA-256 of what it opens before the file takes its name.
    private func ciphertext(_ root: String, query: [String: String], _ attachments: AttachmentCenter) throws -> APIResponse {
        let sender = try Self.sender(query)?.rawValue ?? ""
        let offset = try Self.count(query["offset"], name: "offset") ?? 0
        let found = offset == 0 ? attachments.incomingState(sender: sender, root: root) : attachments.receiver.record(sender: sender, root: root)
        guard let state = found else { throw RequestProblem(.notFound, "no attachment \(root.prefix(64)) from \(sender)", hint: nil) }
        guard state.state == .complete else { throw RequestProblem(.conflict, "the attachment is \(state.state.rawValue)\(state.reason.map { ": " + $0 } ?? "")", hint: nil) }
        guard offset >= 0, offset <= state.ciphertextBytes else { throw RequestProblem(.badRequest, "offset out of range", hint: nil) }
        let fd = open(attachments.receiver.ciphertextPath(sender + "-" + root), O_RDONLY)
        guard fd >= 0 else { throw RequestProblem(.notFound, "the attachment's ciphertext is missing", hint: nil) }
        defer { close(fd) }
        let count = min(Self.attachmentPieceBytes, state.ciphertextBytes - offset)
        guard let bytes = AttachmentDirectory.readExactly(fd, count: count, at: offset) else { throw RequestProblem(.conflict, "the ciphertext is shorter than recorded", hint: nil) }
        return .octets(bytes)
    }

    /// A byte count or offset from the query (0 or more); nil when absent.
    static func count(_ text: String?, name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0 else { throw RequestProblem(.badRequest, "\(name) must be a whole number of bytes, found \(text.prefix(30))", hint: nil) }
        return value
    }

    /// Replaces each `{"upload": ID, "name": …, "mediaType": …}` of a draft's attachments
    /// with the attachment that upload became (size, SHA-256, seal).
    func fillUploads(_ document: inout [String: JSONValue]) throws {
        guard case .array(let items)? = document["attachments"] else { return }
        document["attachments"] = .array(try items.enumerated().map { position, item in
            guard case .object(let fields) = item, case .string(let uploadText)? = fields["upload"] else { return item }
            guard let id = UUID(uuidString: uploadText), case .string(let name)? = fields["name"], case .string(let mediaType)? = fields["mediaType"],
                  let attachment = attachments?.attachment(forUpload: id, name: name, mediaType: mediaType), let seal = attachment.encryption else {
                throw RequestProblem(.unprocessableEntity, "/attachments/\(position): an upload id of a finished upload, a name and a media type are needed",
                                     hint: "upload the file first: POST /v1/attachments (LocalAPI.md, Attachments)")
            }
            return .object([
                "name": .string(attachment.name), "mediaType": .string(attachment.mediaType), "sha256": .string(attachment.sha256),
                "bytes": .integer(Int64(attachment.bytes)),
                "encryption": .object([
                    "fileKey": .string(seal.fileKey), "nonce": .string(seal.nonce), "chunkSize": .integer(Int64(seal.chunkSize)),
                    "chunkCount": .integer(Int64(seal.chunkCount)), "ciphertextBytes": .integer(Int64(seal.ciphertextBytes)), "root": .string(seal.root),
                ]),
            ])
        })
    }

    /// Refuses a draft whose encrypted attachment is not a finished upload of this node:
    /// the node could never send its bytes.
    func checkUploads(_ draft: FormalNotification) throws {
        for (position, attachment) in draft.attachments.enumerated() {
            guard let root = attachment.encryption?.root else { continue }
            guard attachments?.holdsUpload(root: root) == true else {
                throw RequestProblem(.unprocessableEntity, "/attachments/\(position): no finished upload of this node has this commitment",
                                     hint: "name the upload: {\"upload\": ID, \"name\": …, \"mediaType\": …}")
            }
        }
    }

    /// After a submission: its uploaded attachments start their way to its recipients.
    func attachmentsSubmitted(_ draft: FormalNotification, as submission: Submission) async {
        let roots = draft.attachments.compactMap { $0.encryption?.root }
        guard !roots.isEmpty else { return }
        attachments?.submitted(roots: roots, envelope: submission.id, recipients: submission.recipients)
        await attachments?.logSent(draft.attachments.enumerated().compactMap { position, attachment in attachment.encryption.map { (position, $0.root) } },
                             envelope: submission.id)
    }
}
