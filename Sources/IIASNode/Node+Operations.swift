import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import Metrics

/// What operators and auditors ask of the node (through the local API).
extension Node {
    public func submit(_ notification: FormalNotification, by actor: LocalUser) async throws(NodeError) -> Submission {
        try await submit([notification], by: actor, positioned: false)[0]
    }

    public func submit(_ notification: FormalNotification, weakenHandling: Bool, by actor: LocalUser) async throws(NodeError) -> Submission {
        try await submit([notification], by: actor, positioned: false, weakenHandling: weakenHandling)[0]
    }

    /// Several notifications sealed (on every core), logged with one fdatasync and queued
    /// in this order — or none of them: a problem with one refuses the batch, and the
    /// problems' paths start with the notification's position (`/3/subject`).
    public func submit(batch notifications: [FormalNotification], by actor: LocalUser) async throws(NodeError) -> [Submission] {
        try await submit(notifications, by: actor, positioned: true)
    }

    /// The one submit path; `positioned`: problems' paths start with the notification's
    /// position. A request that arrives while others are being sealed or logged waits
    /// for them and then goes with every request that came meanwhile (`submitTogether`):
    /// the log's group commit one level up, so that many operators' or scripts' requests
    /// at once cost the node one seal on every core, one append and one hop to each link.
    /// A lone request (a flash notification at night) goes at once.
    private func submit(_ notifications: [FormalNotification], by actor: LocalUser, positioned: Bool,
                        weakenHandling: Bool = false) async throws(NodeError) -> [Submission] {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators send") }
        guard !stopping else { throw .unavailable("the node is shutting down") }
        guard !notifications.isEmpty, notifications.count <= Self.maximumBatch else {
            throw .invalidNotification([ValidationProblem(path: "", message: "a batch holds 1 to \(Self.maximumBatch) notifications, not \(notifications.count)")])
        }
        var answering: [FormalNotification] = [], weakenedFrom: [Handling?] = []
        for notification in notifications {
            let (inherited, weakened) = try inheritHandling(notification, weaken: weakenHandling)
            answering.append(inherited)
            weakenedFrom.append(weakened)
            if let weakened {
                logger.warning("handling weakened by the operator", metadata: ["envelope": "\(notification.id)", "user": "\(actor.user)",
                                                                               "from": "\(weakened.marking)", "to": "\(notification.handling.marking)"])
            }
        }
        let request = SubmitRequest(notifications: answering, actor: actor, positioned: positioned, weakenedFrom: weakenedFrom)
        guard submitting else {
            submitting = true
            let result = await submitTogether([request])[0]
            drainSubmissions()
            return try result.get()
        }
        let result = await withCheckedContinuation { waiting in submissionQueue.append((request, waiting)) }
        return try result.get()
    }

    /// Submits what waited meanwhile, as one group of at most `maximumGroup`
    /// notifications (the rest go next), on a task of its own: the request
    /// that started it already has its answer. Clears `submitting` when nothing waits.
    private func drainSubmissions() {
        guard !submissionQueue.isEmpty else { submitting = false; return }
        let taken = Self.groupLength(submissionQueue.lazy.map(\.request.notifications.count))
        let group = Array(submissionQueue.prefix(taken))
        submissionQueue.removeFirst(taken)
        Task {
            let results = await submitTogether(group.map(\.request))
            for ((_, waiting), result) in zip(group, results) { waiting.resume(returning: result) }
            drainSubmissions()
        }
    }

    /// The most notifications one group seals and logs: a burst of large batches goes in
    /// several groups, so that no group holds every waiting request's envelopes at once.
    static let maximumGroup = 4 * maximumBatch

    /// How many of the waiting requests (their notification counts, in order) the next
    /// group takes: at least one, then as many as fit in `maximumGroup`.
    static func groupLength(_ counts: some Sequence<Int>) -> Int {
        var taken = 0, total = 0
        for count in counts {
            guard taken == 0 || total + count <= maximumGroup else { break }
            taken += 1
            total += count
        }
        return taken
    }

    /// Requests submitted as one group, each all or nothing and each with its own
    /// outcome: a problem with one refuses only that request. The notifications of the
    /// group are sealed together, logged with one append and queued to each link in
    /// one hop, in the order of the requests.
    private func submitTogether(_ requests: [SubmitRequest]) async -> [Result<[Submission], NodeError>] {
        var results = [Result<[Submission], NodeError>?](repeating: nil, count: requests.count)
        // Set only when it differs: any change makes sealing check the notification again.
        let batches = requests.map { request in
            request.notifications.map { notification in
                var notification = notification
                if notification.sender != configuration.center { notification.sender = configuration.center }
                return notification
            }
        }
        // Validated where it is sealed, off the actor (`seal`).
        let known = Set(configuration.peers.map(\.center))
        var backlog: [CenterID: Int] = [:]
        for (number, batch) in batches.enumerated() {
            do throws(NodeError) {
                var perRecipient: [CenterID: Int] = [:]
                for notification in batch {
                    if let stranger = notification.recipients.first(where: { !known.contains($0) }) { throw .unknownRecipient(stranger) }
                    for recipient in Set(notification.recipients) { perRecipient[recipient, default: 0] += 1 }
                }
                for (recipient, count) in perRecipient {
                    if let link = peers[recipient],
                       link.backlog.load(ordering: .relaxed) + backlog[recipient, default: 0] + count > configuration.limits.queueDepth {
                        throw .unavailable("\(configuration.limits.queueDepth) notifications already wait for \(recipient) (limits.queueDepth)")
                    }
                }
                try checkNewIDs(batch.map(\.id))
                for (recipient, count) in perRecipient { backlog[recipient, default: 0] += count }
            } catch {
                results[number] = .failure(error)
            }
        }
        // Every notification of the requests still standing, sealed on every core at once.
        let standing = batches.indices.filter { results[$0] == nil }
        let outcomes = await Self.seal(standing.flatMap { number in
            zip(batches[number], requests[number].weakenedFrom).map { ($0, requests[number].actor, $1) }
        }, crypto: crypto)
        var sealedOf: [Int: [(envelope: Envelope, action: OperatorAction)]] = [:]
        // Ids of the group's requests sealed so far: claimed only by a request that will be
        // logged, so one refused for its content does not refuse another with the same id.
        var claimed: Set<UUID> = []
        var next = 0
        for number in standing {
            let count = batches[number].count
            defer { next += count }
            do throws(NodeError) {
                var sealed: [(envelope: Envelope, action: OperatorAction)] = []
                for (position, outcome) in outcomes[next..<next + count].enumerated() {
                    switch outcome {
                    case .success(let item): sealed.append(item)
                    case .failure(.invalidNotification(let problems)) where requests[number].positioned:
                        throw .invalidNotification(problems.map { ValidationProblem(path: "/\(position)" + $0.path, message: $0.message) })
                    case .failure(let failure): throw failure
                    }
                }
                // The actor is reentrant: an id may have been logged while this sealed.
                try checkNewIDs(sealed.map(\.envelope.id), claimed: claimed)
                claimed.formUnion(sealed.map(\.envelope.id))
                sealedOf[number] = sealed
            } catch {
                results[number] = .failure(error)
            }
        }
        let logged = standing.filter { sealedOf[$0] != nil }
        guard !logged.isEmpty else { return results.map { $0! } }
        let placed: [(index: UInt64, time: Date)]
        do {
            // One group: consecutive entries made durable by the same fdatasync.
            placed = try await append(logged.flatMap { sealedOf[$0]! }.flatMap {
                [(.sent, $0.envelope.bytes, .envelope($0.envelope)), (.operatorAction, $0.action.encoded(), .action($0.action))]
            })
        } catch {
            logger.error("cannot log a submission", metadata: ["envelopes": "\(logged.flatMap { sealedOf[$0]! }.map(\.envelope.id))", "error": "\(error)"])
            for number in logged { results[number] = .failure(.unavailable("the log refused the write (\(error)); nothing was sent")) }
            return results.map { $0! }
        }
        var entry = 0
        var addressed: [CenterID: [(id: UUID, index: UInt64, bytes: [UInt8])]] = [:]
        for number in logged {
            let actor = requests[number].actor
            var submissions: [Submission] = []
            for ((envelope, _), notification) in zip(sealedOf[number]!, batches[number]) {
                let index = placed[entry].index
                entry += 2
                if awaitingReceipts.count < Self.awaitingReceiptsLimit { awaitingReceipts[index] = envelope.sha256 }
                logger.info("submitted", metadata: ["envelope": "\(envelope.id)", "user": "\(actor.user)", "uid": "\(actor.uid)",
                                                    "recipients": "\(notification.recipients.map(\.rawValue).joined(separator: ","))",
                                                    "index": "\(index)"])
                submissions.append(Submission(id: envelope.id, logIndex: index, recipients: notification.recipients.sorted()))
                for recipient in Set(notification.recipients) { addressed[recipient, default: []].append((envelope.id, index, envelope.bytes)) }
            }
            Metrics.Counter(label: "iias_sent_total").increment(by: submissions.count)
            results[number] = .success(submissions)
        }
        // "Queued" is told before the links get them: a receipt may be logged while this waits.
        if !subscribers.isEmpty {
            for number in logged {
                for (envelope, _) in sealedOf[number]! {
                    for delivery in ledger.outgoing[envelope.id]?.delivery.values ?? [] { emit(.delivery(id: envelope.id, recipient: onTheWire(delivery, of: envelope.id))) }
                }
            }
        }
        for recipient in addressed.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            await peers[recipient]?.enqueue(addressed[recipient]!)
        }
        return results.map { $0! }
    }

    /// One request to submit: its notifications (all or nothing), who asked, and whether
    /// problems name a notification's position (a batch request).
    struct SubmitRequest: Sendable {
        var notifications: [FormalNotification]
        var actor: LocalUser
        var positioned: Bool
        /// For each notification, the stronger handling the operator chose to give up, if any.
        var weakenedFrom: [Handling?]
    }

    /// The most notifications one batch submits.
    public static let maximumBatch = 256

    /// Refuses ids this node already knows in either direction (sent by us, or received
    /// from any center: an operator's own id must not even look like another center's),
    /// given twice in one batch, or `claimed` by a request of the same group being logged.
    private func checkNewIDs(_ ids: [UUID], claimed: Set<UUID> = []) throws(NodeError) {
        var seen: Set<UUID> = []
        for (position, id) in ids.enumerated() {
            guard seen.insert(id).inserted else {
                throw .invalidNotification([ValidationProblem(path: "/\(position)/id", message: "the same id as an earlier notification of this batch")])
            }
            if claimed.contains(id) { throw .idInUse(id, use: "sent by this node") }
            if let use = ledger.knownUse(of: id) { throw .idInUse(id, use: use) }
        }
    }

    /// Seals each notification for its actor (`seal(_:by:crypto:)`) off the actor, one
    /// task per core: the actor is free meanwhile.
    nonisolated static func seal(_ work: [(notification: FormalNotification, actor: LocalUser, weakenedFrom: Handling?)],
                                 crypto: NodeCrypto) async -> [Result<(envelope: Envelope, action: OperatorAction), NodeError>] {
        await concurrentMap(work) { notification, actor, weakenedFrom in
            Result { () throws(NodeError) in try seal(notification, by: actor, weakenedFrom: weakenedFrom, crypto: crypto) }
        }
    }

    /// Validates and seals a submission, and encrypts its outbox summary for us; no
    /// state, so it runs on the caller's thread, never inside the actor.
    nonisolated static func seal(_ notification: FormalNotification, by actor: LocalUser, weakenedFrom: Handling? = nil,
                                 crypto: NodeCrypto) throws(NodeError) -> (envelope: Envelope, action: OperatorAction) {
        let sealed: Envelope
        do {
            let keys = try crypto.encryptionKeys(for: notification.recipients)
            sealed = try Envelope.seal(notification, signer: crypto.keys.signingKey, recipientKeys: keys,
                                       transport: crypto.keyTransport, namesSigner: crypto.namesSigner)
        } catch EnvelopeError.invalidNotification(let invalid) {
            throw .invalidNotification(invalid.problems)
        } catch {
            // A certificate or CRL that ran out is the operator's to fix, not a wait.
            if let expired = crypto.expiryReport(peers: notification.recipients).expiredProblem(recipients: notification.recipients) {
                throw .expired(expired)
            }
            throw .unavailable("cannot seal: \(error)")
        }
        let summary = OutboxSummary(category: notification.category, priority: notification.priority, subject: notification.subject,
                                    kind: notification.kind, handling: notification.handling, handlingWeakenedFrom: weakenedFrom?.marking,
                                    references: notification.references, responseDeadline: notification.responseDeadline, inReplyTo: notification.inReplyTo)
        let encrypted = crypto.outboxSummaryKey.seal(summary.json, associatedData: OutboxSummary.associatedData(for: sealed.id))
        var action = OperatorAction(action: .submit, envelope: sealed.id, actor: actor, encryptedSummary: Data(encrypted))
        if weakenedFrom != nil { action.weakenedHandling = true }
        return (sealed, action)
    }

    public func reply(to id: UUID, from sender: CenterID?, with draft: FormalNotification, weakenHandling: Bool = false,
                      by actor: LocalUser) async throws(NodeError) -> Submission {
        let original = try inboxEnvelope(id, from: sender)
        let summary = try summary(of: original)
        var reply = draft
        reply.kind = .reply
        reply.inReplyTo = id
        reply.recipients = [original.sender]
        if !reply.references.contains(id) { reply.references.append(id) }
        if reply.subject.isEmpty { reply.subject = String(("Re: " + summary.subject).prefix(200)) }
        return try await submit([reply], by: actor, positioned: false, weakenHandling: weakenHandling)[0]
    }

    public func acknowledge(_ id: UUID, from sender: CenterID?, by actor: LocalUser) async throws(NodeError) -> InboxItem {
        guard actor.role == .operator else { throw .forbidden("\(actor.user) is an auditor; only operators acknowledge") }
        let incoming = try inboxEnvelope(id, from: sender)
        if incoming.acknowledged == nil {
            let crypto = self.crypto
            do {
                let action = OperatorAction(action: .acknowledge, envelope: id, sender: incoming.sender, actor: actor)
                let (index, _) = try await append(.operatorAction, action.encoded(), decoded: .action(action))
                guard let sha256 = digest(ofEntry: incoming.index) else { throw NodeError.unavailable("cannot read envelope \(id) back from the log") }
                let acknowledgement = Envelope.receipt(answering: id, sha256: sha256, to: incoming.sender, from: crypto.center,
                                                       signer: crypto.keys.signingKey, outcome: .acknowledged, logIndex: index)
                let (logged, _) = try await append(.sent, acknowledgement.bytes, decoded: .envelope(acknowledgement))
                peers[incoming.sender]?.enqueue([(acknowledgement.id, logged)])
            } catch {
                throw .unavailable("cannot log the acknowledgement: \(error)")
            }
            logger.info("acknowledged", metadata: ["envelope": "\(id)", "from": "\(incoming.sender)", "user": "\(actor.user)", "uid": "\(actor.uid)"])
        }
        guard let item = inboxItem(incoming.sender, id) else { throw .notFound(id) }
        return item
    }

    /// The received notification an operator's id names: `sender`'s, or the only one
    /// with the id; `.ambiguous` listing the senders when several centers used it.
    func inboxEnvelope(_ id: UUID, from sender: CenterID?) throws(NodeError) -> Ledger.Incoming {
        let matches = ledger.inboxMatches(id, from: sender)
        guard matches.count <= 1 else { throw .ambiguous(id, senders: matches.map(\.sender)) }
        guard let only = matches.first else { throw .notFound(id) }
        return only
    }

    public func peers() async -> [PeerStatus] {
        var list: [PeerStatus] = []
        for peer in configuration.peers {
            if let link = peers[peer.center] { list.append(await link.status) } else {
                list.append(PeerStatus(center: peer.center, address: peer.address.description, state: .connecting,
                                       queued: ledger.pending(for: peer.center).count))
            }
        }
        let report = expiryReport()
        for i in list.indices { list[i].earliestCertificate = report.earliest(of: list[i].center) }
        return list
    }

    public func status() async -> NodeStatus {
        let peerList = await peers()
        advanceDesk()
        var status = NodeStatus(center: configuration.center, version: NodeVersion.current, started: started, logEntries: log.count,
                                inbox: ledger.inboxCount, unread: ledger.unreadCount, outboxPending: ledger.pendingCount,
                                peersConnected: peerList.filter { $0.state == .connected }.count,
                                peersConfigured: configuration.peers.count, treeHead: lastTreeHead, expiry: expiryReport())
        status.deskPending = ledger.incomingIDs.count + ledger.outgoingIDs.count - desk.incomingSeen - desk.outgoingSeen
        status.cosignedBy = cosignersOfTreeHead()
        status.witnessed = witnessedStatus()
        status.historyAlarms = alarms()
        status.splitViews = status.historyAlarms?.filter { $0.kind == .splitView }.compactMap(\.evidence)
        return status
    }

    public func treeHead() async -> TreeHead? {
        if lastTreeHead == nil { await appendTreeHeadIfGrown() }
        return lastTreeHead
    }

    public func subscribe(_ sink: @escaping @Sendable (NodeEvent?) -> Void) -> EventSubscription {
        let subscription = EventSubscription(key: UUID.random())
        if stopping { sink(nil) } else { subscribers[subscription] = sink }
        return subscription
    }

    public func unsubscribe(_ subscription: EventSubscription) { subscribers[subscription] = nil }

    // MARK: - Views

    /// The listing of `sender`'s notification `id`, as it stands now.
    func inboxItem(_ sender: CenterID, _ id: UUID) -> InboxItem? { ledger.incoming[sender, id].flatMap(inboxItem) }

    func inboxItem(_ incoming: Ledger.Incoming) -> InboxItem? {
        guard !incoming.isAcknowledgement, let summary = try? summary(of: incoming) else { return nil }
        return InboxItem(id: incoming.id, logIndex: incoming.index, sender: incoming.sender, received: incoming.received,
                         created: summary.created, kind: summary.kind, category: summary.category, priority: summary.priority,
                         subject: summary.subject, inReplyTo: summary.inReplyTo, read: incoming.read,
                         acknowledgedBy: incoming.acknowledgedBy, acknowledged: incoming.acknowledged, tlp: summary.tlp)
    }

    func outboxItem(_ outgoing: Ledger.Outgoing) -> OutboxItem? {
        guard !outgoing.isAcknowledgement else { return nil }
        let summary = outboxSummary(outgoing)
        // A refusal's detail is in the signed refusal the log holds; the fold keeps only its reason.
        let recipients = outgoing.delivery.values.map { delivery in
            var delivery = onTheWire(delivery, of: outgoing.id)
            if delivery.state == .refused, let index = delivery.receiptLogIndex, let entry = try? log.entry(at: index),
               let receipt = try? Envelope(parsing: entry.payload).header.receipt {
                delivery.detail = receipt.detail
            }
            return delivery
        }
        return OutboxItem(id: outgoing.id, logIndex: outgoing.index, created: outgoing.created, category: summary?.category ?? .other,
                          priority: summary?.priority ?? .routine, subject: summary?.subject ?? "(summary not recorded)",
                          submittedBy: outgoing.submittedBy, recipients: recipients, kind: summary?.kind, tlp: summary?.tlp)
    }

    /// A delivery as the log has it, with what its link knows while it waits: written to
    /// the connection (sent) or not, the attempts, when the link tries again.
    func onTheWire(_ delivery: RecipientDelivery, of id: UUID) -> RecipientDelivery {
        guard delivery.state == .queued, let (progress, nextAttempt) = peers[delivery.center]?.progress(of: id) else { return delivery }
        var shown = delivery
        shown.attempts = progress.attempts
        shown.updated = progress.lastSent ?? delivery.updated
        if progress.onTheWire { shown.state = .sent } else { shown.nextAttempt = nextAttempt }
        return shown
    }

    /// What the submission's operator action recorded of a notification we sent (decrypted).
    func outboxSummary(_ outgoing: Ledger.Outgoing) -> OutboxSummary? {
        Self.outboxSummary(outgoing, log: log, crypto: crypto)
    }

    /// The summary our `submit` action holds for `outgoing`, from any thread (the desk reader's too).
    nonisolated static func outboxSummary(_ outgoing: Ledger.Outgoing, log: LogStore, crypto: NodeCrypto) -> OutboxSummary? {
        guard let index = outgoing.summaryIndex, let entry = try? log.entry(at: index),
              let action = OperatorAction(json: entry.payload), action.envelope == outgoing.id else { return nil }
        return crypto.outboxSummary(action)
    }

    /// The cache is bounded: past `summaryCacheLimit` entries it starts again (a listing
    /// then decrypts what it shows once more), so memory does not grow with the inbox.
    func remember(_ summary: InboxSummary, for logIndex: UInt64) {
        if summaries.count >= Self.summaryCacheLimit { summaries.removeAll(keepingCapacity: true) }
        summaries[logIndex] = summary
    }

    static let summaryCacheLimit = 4_096

    /// Category, priority and subject of a received notification: decrypted once, then cached in memory.
    func summary(of incoming: Ledger.Incoming) throws(NodeError) -> InboxSummary {
        if let cached = summaries[incoming.index] { return cached }
        let opened = try open(incoming)
        let summary = InboxSummary(opened.notification, created: opened.created)
        remember(summary, for: incoming.index)
        return summary
    }

    /// Reads the envelope from the log, checks its signature again (the disk is not
    /// trusted more than the wire, but today's CRL and date are not asked: it was
    /// verified in full when it was logged) and decrypts it.
    func open(_ incoming: Ledger.Incoming) throws(NodeError) -> (notification: FormalNotification, created: Date) {
        do { return try Self.openStored(incoming, log: log, crypto: crypto) } catch {
            logger.error("cannot open a logged envelope", metadata: ["envelope": "\(incoming.id)", "index": "\(incoming.index)", "error": "\(error)"])
            throw .unavailable("envelope \(incoming.id) at log index \(incoming.index) does not open: \(error)")
        }
    }
}

extension Node {
    /// A logged envelope read back, its signature checked again and decrypted, from any
    /// thread: `open(_:)` on the actor, the desk reader off it.
    nonisolated static func openStored(_ incoming: Ledger.Incoming, log: LogStore, crypto: NodeCrypto) throws -> (notification: FormalNotification, created: Date) {
        let envelope = try Envelope(parsing: try log.entry(at: incoming.index).payload)
        let verified = try crypto.verifier.verifyStored(envelope)
        return (try crypto.open(verified), envelope.header.created)
    }
}
