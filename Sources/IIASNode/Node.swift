import Foundation
import IIASCrypto
import IIASLog
import IIASModel
import IIASTransport
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

/// One national center's node: owns the log, the fold over it, and a link to every
/// configured peer. Store and forward: an envelope is logged before it is queued, sent
/// until its recipient's signed receipt is logged, and the whole state is rebuilt from
/// the log at start-up. Crypto runs outside the actor (see `NodeCrypto`); the actor only
/// orders log appends and state changes.
public actor Node: NodeOperations {
    public private(set) var configuration: NodeConfiguration
    /// Fixed for the node's lifetime (a change needs a restart).
    public nonisolated let center: CenterID
    nonisolated let limits: NodeConfiguration.Limits
    nonisolated let cryptoBox: Mutex<NodeCrypto>
    nonisolated var crypto: NodeCrypto { cryptoBox.withLock { $0 } }
    /// Centers whose connections the listener accepts (the configured peers).
    nonisolated let allowedPeers: Mutex<Set<String>>
    let log: LogStore
    let logger: Logger
    let group: EventLoopGroup
    var ledger: Ledger
    var peers: [CenterID: PeerLink] = [:]
    var listener: Channel?
    var inboundChannels: [ObjectIdentifier: Channel] = [:]
    var subscribers: [EventSubscription: @Sendable (NodeEvent?) -> Void] = [:]
    /// SHA-256 of our envelopes waiting for receipts, by log index (see `digest(ofEntry:)`).
    var awaitingReceipts: [UInt64: [UInt8]] = [:]
    /// Decrypted listing fields of received notifications, by log index (unique, unlike an id).
    var summaries: [UInt64: InboxSummary] = [:]
    var stopping = false
    var lastTreeHead: TreeHead?
    var treeHeadSize: UInt64 = 0
    /// Entries the newest ledger snapshot covers.
    var snapshotSize: UInt64 = 0
    var background: [Task<Void, Never>] = []
    /// The trust files as last applied (`Node+Rescan`), and when an envelope last made us look.
    var trustFilesSeen: [String: [Double]] = [:]
    var lastTrustLook = Date.distantPast
    /// A submission group is being sealed or logged (`submit`); requests wait here meanwhile.
    var submitting = false
    var submissionQueue: [(request: SubmitRequest, waiting: CheckedContinuation<Result<[Submission], NodeError>, Never>)] = []
    public let started = Date()

    /// Listing fields of a received notification, decrypted on demand, kept in memory only.
    struct InboxSummary: Sendable {
        var kind: Kind
        var category: Category
        var priority: Priority
        var subject: String
        var inReplyTo: UUID?
        /// The envelope's creation time (its header's).
        var created: Date
    }

    /// Opens the log (cutting a torn tail), folds it, and checks keys; does not touch the network.
    public init(configuration: NodeConfiguration, logger: Logger, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        try configuration.checkKeyPermissions()
        let crypto = try NodeCrypto(configuration: configuration)
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let clock = ContinuousClock(), opening = clock.now
        let log = try LogStore(directory: (configuration.dataDirectory as NSString).appendingPathComponent("log"),
                               preallocation: configuration.limits.logPreallocationBytes)
        let opened = clock.now
        if let torn = log.truncatedTail {
            logger.warning("cut a torn tail off the log", metadata: ["segment": "\(torn.segment)", "offset": "\(torn.offset)", "bytes": "\(torn.bytes)"])
        }
        var ledger = Self.loadSnapshot(configuration: configuration, log: log, logger: logger)
        let entries = log.entries(from: ledger.folded)
        var iterator = entries.makeIterator()
        let snapshotEntries = ledger.folded
        while let entry = iterator.next() { ledger.apply(entry) }
        if let error = entries.error { throw error }
        func seconds(_ d: Duration) -> String { String(format: "%.3f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        logger.info("log opened and folded", metadata: [
            "entries": "\(log.count)", "openSeconds": "\(seconds(opened - opening))", "fromSnapshot": "\(snapshotEntries)",
            "folded": "\(log.count - snapshotEntries)", "foldSeconds": "\(seconds(clock.now - opened))",
        ])
        for skipped in ledger.skipped.prefix(10) {
            logger.error("log entry did not fold", metadata: ["index": "\(skipped.index)", "reason": "\(skipped.reason)"])
        }
        self.configuration = configuration
        self.center = configuration.center
        self.limits = configuration.limits
        self.cryptoBox = Mutex(crypto)
        self.allowedPeers = Mutex(Set(configuration.peers.map(\.center.rawValue)))
        self.log = log
        self.logger = logger
        self.group = group
        self.ledger = ledger
        let fsyncTimer = Metrics.Timer(label: "iias_log_fsync_seconds")
        let batchSize = Metrics.Recorder(label: "iias_log_batch_entries")
        log.syncObserver = { seconds, entries in
            fsyncTimer.recordNanoseconds(Int64(seconds * 1e9))
            batchSize.record(entries)
        }
        self.treeHeadSize = log.count
        self.snapshotSize = ledger.snapshotRoot == nil ? 0 : ledger.folded
        self.lastTreeHead = Self.storedTreeHead(logDirectory: (configuration.dataDirectory as NSString).appendingPathComponent("log"))
    }

    // MARK: - Lifecycle

    /// Starts listening and connecting to every peer; returns the bound port.
    @discardableResult
    public func start() async throws -> Int {
        settleRefusalsByDigest()
        for peer in configuration.peers {
            let link = PeerLink(peer: peer, node: self, limits: configuration.limits)
            peers[peer.center] = link
            link.enqueue(ledger.pending(for: peer.center))
        }
        let crypto = self.crypto
        let maxFrame = configuration.limits.maxFrameBytes
        let window = configuration.limits.window
        let connections = ConnectionLimiter(total: configuration.limits.maxPeerConnections,
                                            perAddress: configuration.limits.maxPeerConnectionsPerAddress,
                                            what: "peer", metric: "iias_peer_connections", logger: logger)
        let channel = try await ListenFailure.binding("listen", configuration.listen.description) { try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [weak self] channel in
                guard connections.admit(channel) else { return channel.eventLoop.makeSucceededVoidFuture() }
                let inbox = FrameInbox(limit: window)
                let allowed = self?.allowedPeers.withLock { $0 } ?? []
                return PeerPipeline.configure(channel, crypto: self?.crypto ?? crypto, isServer: true, allowed: allowed,
                                              maxFrameBytes: maxFrame, inbox: inbox).map {
                    guard let self else { return }
                    Task { await self.serveInbound(channel, inbox: inbox) }
                }
            }
            .bind(host: configuration.listen.host, port: configuration.listen.port).get() }
        listener = channel
        for link in peers.values { link.start() }
        background.append(Task { [weak self] in await self?.treeHeadLoop() })
        background.append(Task { [weak self] in await self?.rescanLoop() })
        background.append(Task { [weak self] in await self?.expiryLoop() })
        let port = channel.localAddress?.port ?? configuration.listen.port
        logger.info("node started", metadata: ["center": "\(configuration.center)", "port": "\(port)",
                                               "entries": "\(log.count)", "peers": "\(configuration.peers.count)"])
        Metrics.Gauge(label: "iias_log_entries").record(Int(log.count))
        return port
    }

    /// Stops accepting, closes every connection, appends a final tree head, closes the log.
    public func stop() async {
        guard !stopping else { return }
        stopping = true
        for task in background { task.cancel() }
        try? await listener?.close()
        for link in peers.values { await link.stop() }
        for channel in inboundChannels.values { try? await channel.close() }
        for sink in subscribers.values { sink(nil) }
        subscribers.removeAll()
        await appendTreeHeadIfGrown()
        await saveSnapshot()
        log.close()
        logger.info("node stopped", metadata: ["entries": "\(log.count)"])
    }

    /// SIGHUP: the CA, CRL and certificates for new connections and envelopes from now
    /// on, and the peer list (links to removed peers stop, new or moved peers connect).
    /// Center, listen address, data directory and limits need a restart.
    public func reload(_ fresh: NodeConfiguration) async throws(NodeConfiguration.Problem) {
        for (key, changed) in [("center", fresh.center != configuration.center), ("listen", fresh.listen != configuration.listen),
                               ("data", fresh.dataDirectory != configuration.dataDirectory), ("limits", fresh.limits != configuration.limits)]
            where changed {
            logger.warning("configuration change needs a restart; ignored until then", metadata: ["key": "\(key)"])
        }
        var accepted = fresh
        accepted.center = configuration.center
        accepted.listen = configuration.listen
        accepted.dataDirectory = configuration.dataDirectory
        accepted.limits = configuration.limits
        let crypto = try NodeCrypto(configuration: accepted)
        let previous = cryptoBox.withLock { old in defer { old = crypto }; return old }
        if previous.trust.revocationList?.revocations != crypto.trust.revocationList?.revocations {
            // Sessions were authenticated under the old CRL: a revoked center keeps none.
            logger.notice("the CRL's revocations changed; reconnecting every peer under it")
            for channel in inboundChannels.values { try? await channel.close() }
            for link in peers.values { await link.reconnect() }
        }
        let old = Dictionary(uniqueKeysWithValues: configuration.peers.map { ($0.center, $0) })
        let new = Dictionary(uniqueKeysWithValues: accepted.peers.map { ($0.center, $0) })
        configuration = accepted
        allowedPeers.withLock { $0 = Set(new.keys.map(\.rawValue)) }
        for (center, peer) in old where new[center] != peer {
            await peers.removeValue(forKey: center)?.stop()
        }
        for (center, peer) in new where old[center] != peer && !stopping {
            let link = PeerLink(peer: peer, node: self, limits: limits)
            peers[center] = link
            link.enqueue(ledger.pending(for: center))
            link.start()
        }
        trustFilesSeen = trustFilesState()
        logger.info("reloaded the CA, CRL, certificates and peers", metadata: ["peers": "\(accepted.peers.count)"])
        checkExpiry(logging: true)
    }

    /// The newest signed tree head the log wrote to its `checkpoint` file, if any.
    static func storedTreeHead(logDirectory: String) -> TreeHead? {
        guard let data = FileManager.default.contents(atPath: (logDirectory as NSString).appendingPathComponent(LogStore.checkpointFileName)),
              let note = String(data: data, encoding: .utf8), let blank = note.range(of: "\n\n") else { return nil }
        guard let checkpoint = try? Checkpoint(body: String(note[..<blank.lowerBound]) + "\n") else { return nil }
        return TreeHead(treeSize: checkpoint.treeSize, rootHash: Data(checkpoint.rootHash).base64EncodedString(), checkpoint: note)
    }

    func treeHeadLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(configuration.treeHeadIntervalSeconds))
            if Task.isCancelled || stopping { return }
            await appendTreeHeadIfGrown()
            if log.count - snapshotSize >= Self.snapshotInterval { await saveSnapshot() }
        }
    }

    /// Signs and appends a tree head when entries were added since the last one.
    func appendTreeHeadIfGrown() async {
        guard log.count > treeHeadSize || lastTreeHead == nil, log.count > 0 else { return }
        do {
            let checkpoint = try await log.appendTreeHead(signer: configuration.center.rawValue, key: crypto.keys.signingKey)
            treeHeadSize = log.count
            ledger.skip(checkpoint.treeSize)
            let note = checkpoint.signedNote(name: configuration.center.rawValue, key: crypto.keys.signingKey)
            lastTreeHead = TreeHead(treeSize: checkpoint.treeSize, rootHash: Data(checkpoint.rootHash).base64EncodedString(), checkpoint: note)
        } catch {
            logger.error("cannot append a tree head", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Appending

    /// Appends several entries with one fdatasync, in order, and folds them; every state
    /// change goes through here. `decoded`: the payload as the caller holds it, if it does.
    func append(_ items: [(type: EntryType, payload: [UInt8], decoded: Ledger.Decoded?)]) async throws -> [(index: UInt64, time: Date)] {
        let start = ContinuousClock.now
        let written = try await log.append(items.map { ($0.type, $0.payload) })
        let elapsed = ContinuousClock.now - start
        Metrics.Timer(label: "iias_log_append_seconds").recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        Metrics.Gauge(label: "iias_log_entries").record(Int(log.count))
        var placed: [(index: UInt64, time: Date)] = []
        for (item, entry) in zip(items, written) {
            ledger.apply(entry, decoded: item.decoded)
            placed.append((entry.index, Date(timeIntervalSince1970: Double(entry.timeMilliseconds) / 1000)))
        }
        return placed
    }

    func append(_ type: EntryType, _ payload: [UInt8], decoded: Ledger.Decoded? = nil) async throws -> (index: UInt64, time: Date) {
        try await append([(type, payload, decoded)])[0]
    }

    func emit(_ event: NodeEvent) {
        for sink in subscribers.values { sink(event) }
    }

    // MARK: - Receiving

    /// Serves one inbound connection: envelopes in arrival order, in batches of what
    /// arrived together, each answered with a signed receipt or refusal once the outcome
    /// is durable.
    func serveInbound(_ channel: Channel, inbox: FrameInbox) async {
        let key = ObjectIdentifier(channel)
        inboundChannels[key] = channel
        defer { inboundChannels[key] = nil }
        var peer: CenterID?
        while let items = await inbox.next() {
            var envelopes: [[UInt8]] = []
            var frames = 0
            for item in items {
                switch item {
                case .established(let identity):
                    peer = CenterID(rawValue: identity.centerID)
                    // It is up: what we queued for it need not wait out our backoff.
                    if let peer { peers[peer]?.peerAppeared() }
                case .frame(.envelope(let bytes)):
                    envelopes.append(bytes)
                    frames += 1
                case .frame(.error(let code, let reason)):
                    logger.notice("peer closed its connection with an error", metadata: ["peer": "\(peer?.rawValue ?? "?")", "code": "\(code)", "reason": "\(reason.prefix(200))"])
                    frames += 1
                case .frame:
                    frames += 1
                }
            }
            if let peer, !envelopes.isEmpty {
                guard let answers = await envelopesArrived(envelopes, from: peer) else {
                    try? await channel.writeAndFlush(Frame.error(code: Self.storageUnavailableCode,
                                                                 reason: "the recipient cannot store envelopes now; retry later")).get()
                    try? await channel.close()
                    return
                }
                for answer in answers { channel.write(Frame.receipt(answer), promise: nil) }
                channel.flush()
            }
            if frames > 0 { inbox.consumed(frames, on: channel.eventLoop) }
        }
    }

    /// Envelopes from `peer`, checked concurrently outside the actor, then logged (one
    /// fdatasync for all that are new) and answered in order.
    nonisolated func envelopesArrived(_ list: [[UInt8]], from peer: CenterID) async -> [[UInt8]]? {
        let skew = limits.clockSkewSeconds
        var verdicts = await concurrentMap(list) { [crypto] in Self.check($0, from: peer, crypto: crypto, skew: skew) }
        // Signed by a key we hold no certificate for: perhaps the sender rotated and its new
        // certificate reached our folder since we last read it. Look once, then judge again.
        if verdicts.contains(where: \.mayBeANewKey), await refreshTrustIfChanged() {
            let crypto = self.crypto
            for i in verdicts.indices where verdicts[i].mayBeANewKey { verdicts[i] = Self.check(list[i], from: peer, crypto: crypto, skew: skew) }
        }
        guard let answers = await record(verdicts, from: peer) else { return nil }
        return await crypto.sign(answers, to: peer)
    }

    /// An envelope of a peer's that we logged at `index` at `time`: what its delivery
    /// receipt says.
    struct Delivery: Sendable {
        var id: UUID
        var sha256: [UInt8]
        var index: UInt64
        var time: Date
        /// A version 2 notification: its sender's build reads receipt batches.
        var batchable: Bool
        /// A version 3 envelope: its sender's build reads receipts that name their signer.
        var namesSigner: Bool

        init(_ envelope: Envelope, index: UInt64, time: Date) {
            id = envelope.id
            sha256 = envelope.sha256
            self.index = index
            self.time = time
            batchable = envelope.header.kind == .notification && envelope.version >= 2
            namesSigner = envelope.version >= 3
        }
    }

    /// What an envelope is answered with, decided on the actor and signed off it.
    enum Answer: Sendable {
        /// The deterministic delivery receipt of one envelope.
        case receipt(Delivery)
        /// One deterministic receipt for several (see `NodeCrypto.sign(_:to:)`).
        case batch([Delivery])
        /// A signed refusal naming its reason.
        case refusal(UUID, [UInt8], Receipt.RefusalReason, String)
    }

    /// ERROR code sent before closing a peer's connection when our log refuses writes.
    public static let storageUnavailableCode: UInt16 = 5

    enum Verdict: Sendable {
        /// Refused; `resent` is the parsed envelope when it came from its own sender, so
        /// that a resend of bytes we logged earlier is answered with the receipt we signed
        /// then, whatever the checks say today (a recipient never signs two outcomes).
        case refuse(UUID, [UInt8], Receipt.RefusalReason, String, resent: Envelope?)
        case accept(Envelope, InboxSummary?)

        /// Refused for its signer: a key whose certificate we may not have read yet.
        var mayBeANewKey: Bool {
            if case .refuse(_, _, let reason, _, _) = self { return reason == .badSignature || reason == .untrustedSender }
            return false
        }
    }

    /// Every check that needs no state: parse, sender = TLS peer, addressed to us, not
    /// created in the future beyond the skew bound, certificate chain + CRL + signature,
    /// and for notifications decryption and validation. Runs on the caller's thread, never
    /// on the actor. An old `created` is no reason to refuse: duplicates are recognised by
    /// (sender, id, SHA-256) against the log, not by a time window, and the certificate is
    /// judged now, at the time we log it (see Exchange.md, "Time and outages").
    nonisolated static func check(_ bytes: [UInt8], from peer: CenterID, crypto: NodeCrypto, skew: Double) -> Verdict {
        let sha256 = SHA256.hash(bytes)
        let envelope: Envelope
        do { envelope = try Envelope(parsing: bytes) } catch {
            return .refuse(Ledger.unparsedEnvelopeID, sha256, .invalid, "\(error)", resent: nil)
        }
        let header = envelope.header
        guard header.sender == peer else {
            return .refuse(header.id, sha256, .senderMismatch, "the envelope names sender \(header.sender); this connection is \(peer)", resent: nil)
        }
        func refuse(_ reason: Receipt.RefusalReason, _ detail: String) -> Verdict {
            .refuse(header.id, sha256, reason, detail, resent: envelope)
        }
        guard header.recipients.contains(crypto.center) else {
            return refuse(.notARecipient, "\(crypto.center) is not among the recipients")
        }
        let ahead = header.created.timeIntervalSinceNow
        guard ahead <= skew else {
            return refuse(.clockSkew, "created \(Int(ahead)) s ahead of our clock; the bound is \(Int(skew)) s")
        }
        let verified: VerifiedEnvelope
        do { verified = try crypto.verifier.verify(envelope) } catch {
            switch error {
            case .badSignature, .noSignerCertificate: return refuse(.badSignature, "\(error)")
            case .unknownSigningKey: return refuse(.untrustedSender, "\(error)")
            default: return refuse(.untrustedSender, "\(error)")
            }
        }
        switch header.kind {
        case .notification:
            do {
                let notification = try crypto.open(verified)
                return .accept(envelope, InboxSummary(notification, created: header.created))
            } catch {
                return refuse(.invalid, error.redactedDescription)
            }
        case .receipt:
            guard header.receipt?.outcome == .acknowledged else {
                return refuse(.invalid, "receipts travel in RECEIPT frames; only acknowledgements are envelopes")
            }
            return .accept(envelope, nil)
        }
    }

    /// Logs the accepted envelopes that are new (together) and returns, in order, each
    /// envelope's answer: its deterministic delivery receipt, or a signed refusal.
    /// Nil when the log refused the write (e.g. a full disk): nothing is answered.
    func record(_ verdicts: [Verdict], from peer: CenterID) async -> [Answer?]? {
        var answers = [Answer?](repeating: nil, count: verdicts.count)
        var fresh: [(position: Int, envelope: Envelope, summary: InboxSummary?)] = []
        // Every accepted envelope here is `peer`'s (checked against the TLS peer), so within
        // this call its id is its key; against the ledger the key is (peer, id).
        var freshIDs: Set<UUID> = []
        for (position, verdict) in verdicts.enumerated() {
            switch verdict {
            case .refuse(let id, let sha256, let reason, let detail, let resent):
                if let resent, let known = ledger.incoming[peer, resent.id], digest(ofEntry: known.index) == sha256 {
                    // Bytes we logged before: the receipt we signed then, not today's verdict.
                    Metrics.Counter(label: "iias_duplicates_total").increment()
                    answers[position] = .receipt(Delivery(resent, index: known.index, time: known.received))
                    continue
                }
                Metrics.Counter(label: "iias_rejects_total", dimensions: [("reason", reason.rawValue)]).increment()
                logger.notice("refused an envelope", metadata: ["peer": "\(peer)", "envelope": "\(id)", "reason": "\(reason.rawValue)", "detail": "\(detail)"])
                answers[position] = .refusal(id, sha256, reason, detail)
            case .accept(let envelope, let summary):
                let header = envelope.header
                if ledger.incomingPosition(header.id, from: peer) != nil || freshIDs.contains(header.id) { continue }   // answered below
                if header.kind == .receipt {
                    guard let answered = header.receipt?.envelopeID, let index = ledger.logIndex(ofOutgoing: answered),
                          ledger.deliveryState(of: answered, for: peer) != nil, digest(ofEntry: index) == header.receipt?.envelopeSHA256 else {
                        answers[position] = .refusal(header.id, envelope.sha256, .invalid, "acknowledges no notification of ours to \(peer)")
                        continue
                    }
                }
                freshIDs.insert(header.id)
                fresh.append((position, envelope, summary))
            }
        }
        if !fresh.isEmpty {
            do {
                let placed = try await append(fresh.map { ($0.envelope.header.kind == .notification ? .received : .receipt, $0.envelope.bytes, .envelope($0.envelope)) })
                for (item, (index, time)) in zip(fresh, placed) {
                    let header = item.envelope.header
                    answers[item.position] = .receipt(Delivery(item.envelope, index: index, time: time))
                    if let summary = item.summary { remember(summary, for: index) }
                    if header.kind == .notification {
                        Metrics.Counter(label: "iias_received_total").increment()
                        if !subscribers.isEmpty, let incoming = ledger.incoming[peer, header.id], let inboxItem = inboxItem(incoming) {
                            emit(.received(inboxItem))
                        }
                        logger.info("received", metadata: ["envelope": "\(header.id)", "from": "\(peer)", "index": "\(index)"])
                    } else if let answered = header.receipt?.envelopeID, let delivery = ledger.outgoing[answered]?.delivery[peer] {
                        emit(.delivery(id: answered, recipient: delivery))
                    }
                }
            } catch {
                // Not a refusal (that would be final): no answer, and the connection is
                // closed, so the sender keeps the envelopes and resends after backing off.
                logger.error("cannot log received envelopes; asking the sender to retry", metadata: ["count": "\(fresh.count)", "error": "\(error)"])
                return nil
            }
        }
        // Duplicates (of the log, or within this batch): the same receipt as the first time.
        for (position, verdict) in verdicts.enumerated() where answers[position] == nil {
            guard case .accept(let envelope, _) = verdict else { continue }
            if let known = ledger.incoming[peer, envelope.id], digest(ofEntry: known.index) == envelope.sha256 {
                Metrics.Counter(label: "iias_duplicates_total").increment()
                answers[position] = .receipt(Delivery(envelope, index: known.index, time: known.received))
            } else {
                Metrics.Counter(label: "iias_rejects_total", dimensions: [("reason", "invalid")]).increment()
                answers[position] = .refusal(envelope.id, envelope.sha256, .invalid, "\(peer) already used this envelope id for other bytes, or it is not stored")
            }
        }
        return answers
    }

    /// Receipts from `peer` on one of our links: parsed and verified concurrently outside
    /// the actor, matched to our envelopes, logged together. The envelopes the link stops
    /// sending (answered now or before), which it settles itself: no task in between.
    nonisolated func receiptsArrived(_ list: [[UInt8]], from peer: CenterID) async -> [UUID] {
        let crypto = self.crypto
        let checked: [Envelope?] = await concurrentMap(list) { bytes in
            guard let envelope = try? Envelope(parsing: bytes), envelope.header.kind == .receipt, envelope.header.sender == peer,
                  envelope.header.receipt?.outcome != .acknowledged,
                  (try? crypto.verifier.verify(envelope)) != nil else { return nil }
            return envelope
        }
        let rejected = checked.filter { $0 == nil }.count
        if rejected > 0 {
            Metrics.Counter(label: "iias_rejects_total", dimensions: [("reason", "bad-receipt")]).increment(by: rejected)
            logger.warning("receipts that do not parse or verify as this peer's", metadata: ["peer": "\(peer)", "count": "\(rejected)"])
        }
        return await recordReceipts(checked.compactMap { $0 }, from: peer)
    }

    /// Logs each receipt envelope that answers at least one of our envelopes still
    /// waiting for `peer` (a batch is logged whole, as signed); the envelopes settled.
    func recordReceipts(_ envelopes: [Envelope], from peer: CenterID) async -> [UUID] {
        var fresh: [Envelope] = []
        var answers: [(id: UUID, receipt: Receipt)] = []
        var answered: Set<UUID> = []
        // Refusals under the null id, matched by digest to what is in flight.
        var matched: [[UInt8]: UUID] = [:]
        // Envelopes the link stops sending.
        var settled: [UUID] = []
        for envelope in envelopes {
            var new: [(id: UUID, receipt: Receipt)] = []
            var trusted = true
            for receipt in envelope.header.receipts {
                var id = receipt.envelopeID
                if id == Ledger.unparsedEnvelopeID, receipt.outcome == .refused {
                    // Bytes the recipient could not parse: the refusal names only their digest.
                    guard let match = await inFlightEnvelope(digest: receipt.envelopeSHA256, to: peer) else {
                        logger.notice("a refusal of bytes we did not send this peer", metadata: ["peer": "\(peer)", "sha256": "\(receipt.envelopeSHA256.hexString)"])
                        continue
                    }
                    id = match
                    matched[receipt.envelopeSHA256] = match
                }
                guard let index = ledger.logIndex(ofOutgoing: id), let state = ledger.deliveryState(of: id, for: peer) else {
                    logger.notice("receipt for an envelope we did not send this peer", metadata: ["peer": "\(peer)", "envelope": "\(id)"])
                    continue
                }
                guard state == .queued || state == .sent, !answered.contains(id) else {
                    settled.append(id)
                    continue
                }
                guard receipt.outcome == .refused || receipt.envelopeSHA256 == digest(ofEntry: index) else {
                    // Not logged at all: the fold trusts every receipt in a logged entry.
                    logger.warning("receipt names other bytes than we sent", metadata: ["peer": "\(peer)", "envelope": "\(id)"])
                    trusted = false
                    break
                }
                new.append((id, receipt))
            }
            guard trusted, !new.isEmpty else { continue }
            for (id, _) in new { answered.insert(id) }
            answers += new
            fresh.append(envelope)
        }
        guard !fresh.isEmpty else { return settled }
        do {
            _ = try await append(fresh.map { (.receipt, $0.bytes, .envelope($0)) })
        } catch {
            // The receipts are lost with the write, so their envelopes would wait in flight
            // for answers that never come again: the link reconnects, which puts them back
            // in the queue, and the peer answers the resent copies with the same receipts.
            logger.error("cannot log receipts; reconnecting so that the envelopes are resent",
                         metadata: ["peer": "\(peer)", "count": "\(answers.count)", "error": "\(error)"])
            await peers[peer]?.reconnect()
            return settled
        }
        settleRefusalsByDigest(matched: matched)
        let refusals = answers.filter { $0.receipt.outcome == .refused }.count
        Metrics.Counter(label: "iias_receipts_total").increment(by: answers.count)
        Metrics.Counter(label: "iias_delivered_total").increment(by: answers.count - refusals)
        if refusals > 0 { Metrics.Counter(label: "iias_refused_total").increment(by: refusals) }
        for (id, receipt) in answers {
            if receipt.outcome == .refused {
                logger.warning("recipient refused", metadata: ["peer": "\(peer)", "envelope": "\(id)",
                                                              "reason": "\(receipt.reason?.rawValue ?? "?")", "detail": "\(receipt.detail ?? "")"])
            }
            settled.append(id)
            if let index = ledger.logIndex(ofOutgoing: id), ledger.isAnswered(id) {
                awaitingReceipts[index] = nil
            }
            if !subscribers.isEmpty, let updated = ledger.outgoing[id]?.delivery[peer] {
                emit(.delivery(id: id, recipient: updated))
            }
        }
        return settled
    }

    /// Our envelope on the wire to `peer`, not answered yet, whose bytes have `sha256`:
    /// what a refusal under the null id answers. At most a window of envelopes is in
    /// flight, and their digests are in memory, so no refusal costs more than that.
    func inFlightEnvelope(digest sha256: [UInt8], to peer: CenterID) async -> UUID? {
        guard let link = peers[peer] else { return nil }
        return await link.inFlightIDs().first { id in
            ledger.logIndex(ofOutgoing: id).flatMap(digest(ofEntry:)) == sha256
        }
    }

    /// Settles each refusal under the null id that the fold met (`Ledger.refusalsByDigest`)
    /// with our envelope of that digest: as such refusals are logged, with the envelope
    /// they were matched to in flight (`matched`), and at start-up, when nothing is in
    /// flight and every envelope still waiting for that center and logged before the
    /// refusal is a candidate (read once, only when the folded part of the log holds such
    /// a refusal). The same log gives the same match, so a restart agrees with what was
    /// shown live.
    func settleRefusalsByDigest(matched: [[UInt8]: UUID] = [:]) {
        let refusals = ledger.takeRefusalsByDigest()
        guard !refusals.isEmpty else { return }
        var waiting: [CenterID: [[UInt8]: UUID]] = [:]
        for refusal in refusals {
            let sha256 = refusal.receipt.envelopeSHA256
            var match = matched[sha256]
            if match == nil {
                if waiting[refusal.from] == nil {
                    waiting[refusal.from] = Dictionary(ledger.pending(for: refusal.from).compactMap { id in
                        ledger.logIndex(ofOutgoing: id).flatMap(digest(ofEntry:)).map { ($0, id) }
                    }, uniquingKeysWith: { first, _ in first })
                }
                match = waiting[refusal.from]?[sha256].flatMap { id in (ledger.logIndex(ofOutgoing: id) ?? .max) < refusal.entry ? id : nil }
            }
            guard let id = match, ledger.settle(id, with: refusal) else { continue }
            if let index = ledger.logIndex(ofOutgoing: id), ledger.isAnswered(id) { awaitingReceipts[index] = nil }
            logger.notice("a refusal of bytes the recipient could not parse, matched to our envelope by digest",
                          metadata: ["peer": "\(refusal.from)", "envelope": "\(id)", "detail": "\(refusal.receipt.detail ?? "")"])
        }
    }

    // MARK: - Links (called by PeerLink)

    /// The bytes of our envelope `id` for `peer`'s connection, marked sent; nil when the
    /// peer already answered it (or it is not ours). One hop onto the actor per envelope.
    func takeForSending(_ id: UUID, to peer: CenterID, attempts: Int) -> [UInt8]? {
        guard let state = ledger.deliveryState(of: id, for: peer), state == .queued || state == .sent,
              let index = ledger.logIndex(ofOutgoing: id), let bytes = try? log.entry(at: index).payload else { return nil }
        ledger.markSent(id, to: peer, attempts: attempts)
        return bytes
    }

    func markQueued(_ ids: [UUID], for peer: CenterID) { ledger.markQueued(ids, for: peer) }

    /// Fresh envelopes the link sent with the bytes it was handed (see `PeerLink.enqueue(_:)` with bytes).
    func markSent(_ ids: [UUID], to peer: CenterID, attempts: Int) {
        for id in ids where ledger.deliveryState(of: id, for: peer) == .queued {
            ledger.markSent(id, to: peer, attempts: attempts)
        }
    }

    func nextAttempt(for peer: CenterID, at date: Date?) { ledger.nextAttempt(for: peer, at: date) }

    /// SHA-256 of a logged envelope: remembered while ours waits for receipts, otherwise
    /// read back from the log (the fold keeps no digests).
    func digest(ofEntry index: UInt64) -> [UInt8]? {
        if let known = awaitingReceipts[index] { return known }
        return (try? log.entry(at: index)).map { SHA256.hash($0.payload) }
    }

    /// At most this many digests of our unanswered envelopes are kept (about 100 bytes
    /// each); beyond it, receipts are matched by reading the envelope back.
    static let awaitingReceiptsLimit = 8192

    // MARK: - Ledger snapshots

    /// A snapshot is written when this many entries were added since the last one (and at stop).
    static let snapshotInterval: UInt64 = 50_000
    static let snapshotFileName = "ledger.snapshot"

    static func snapshotPath(_ configuration: NodeConfiguration) -> String {
        (configuration.dataDirectory as NSString).appendingPathComponent(snapshotFileName)
    }

    /// The ledger from the snapshot file when it matches the log (same root at its size),
    /// else an empty one (the whole log is folded). Why a snapshot was not used is logged.
    static func loadSnapshot(configuration: NodeConfiguration, log: LogStore, logger: Logger) -> Ledger {
        let path = snapshotPath(configuration)
        let empty = Ledger(center: configuration.center)
        do {
            guard let bytes = try DurableFile.read(path) else { return empty }
            let ledger = try Ledger(snapshot: bytes, center: configuration.center)
            guard ledger.folded <= log.count, let root = try? log.merkleTree().rootHash(treeSize: ledger.folded),
                  constantTimeEqual(root, ledger.snapshotRoot ?? []) else {
                throw Ledger.SnapshotError.otherLog("its root at \(ledger.folded) entries is not the log's")
            }
            return ledger
        } catch {
            logger.notice("folding the whole log instead of the ledger snapshot", metadata: ["file": "\(path)", "reason": "\(error)"])
            return empty
        }
    }

    /// Writes the ledger as it is now (a copy; written off the actor), bound to the log's
    /// root at the entries it covers. A failure is logged: the snapshot only saves time.
    func saveSnapshot() async {
        guard ledger.isContiguous, ledger.folded > snapshotSize else { return }
        let copy = ledger, path = Self.snapshotPath(configuration), log = self.log
        let written: Result<Void, any Error> = await Task.detached(priority: .utility) {
            Result {
                let root = try log.merkleTree().rootHash(treeSize: copy.folded)
                try DurableFile.write(copy.snapshot(root: root), to: path)
            }
        }.value
        switch written {
        case .success: snapshotSize = copy.folded
        case .failure(let error): logger.warning("cannot write the ledger snapshot", metadata: ["file": "\(path)", "error": "\(error)"])
        }
    }

    func linkChanged(_ status: PeerStatus) { emit(.peer(status)) }
}


/// `transform` over `items` on the global concurrent executor (the crypto of a batch on
/// both cores), results in the items' order.
/// Read once: Foundation reads the cgroup files again on every `activeProcessorCount`.
private let processorCount = ProcessInfo.processInfo.activeProcessorCount

func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], _ transform: @escaping @Sendable (T) -> R) async -> [R] {
    if items.count <= 1 { return items.map(transform) }
    // One task per core, each on a contiguous run: a task per item costs more than the
    // work when batches are large and cores few.
    let chunks = min(items.count, processorCount)
    let size = (items.count + chunks - 1) / chunks
    return await withTaskGroup(of: (Int, [R]).self) { group in
        for start in stride(from: 0, to: items.count, by: size) {
            let run = items[start..<min(start + size, items.count)]
            group.addTask { (start, run.map(transform)) }
        }
        var results = [R?](repeating: nil, count: items.count)
        for await (start, mapped) in group {
            for (offset, result) in mapped.enumerated() { results[start + offset] = result }
        }
        return results.map { $0! }
    }
}

extension Node.InboxSummary {
    init(_ notification: FormalNotification, created: Date) {
        self.init(kind: notification.kind, category: notification.category, priority: notification.priority,
                  subject: notification.subject, inReplyTo: notification.inReplyTo, created: created)
    }
}
