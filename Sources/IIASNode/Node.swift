import Foundation
import IIASAPI
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
    /// Attachments uploaded, sent and received (DATA/attachments).
    nonisolated let attachments: AttachmentCenter
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
    /// Threads and requests: what the desk needs of every notification's content (`Node+Desk`).
    var desk: DeskIndex
    /// Fields of entries not yet taken into `desk`: received ones by log index (nil: does
    /// not open), sent ones by id; brought by the receive path or by the desk reader.
    var deskReceived: [UInt64: InboxSummary?] = [:]
    var deskSent: [UUID: OutboxSummary?] = [:]
    /// The background reader catching `desk` up with the ledger, while it runs.
    var deskReader: Task<Void, Never>?
    /// What the desk index file last written covers (`saveDeskIndex`).
    var deskSaved: DeskCover?
    var stopping = false
    /// The stage each request was last announced at (`SENDER/ID`), so that `watch` hears
    /// of each stage once (`Node+RequestDeadlines`).
    var announcedRequests: [String: RequestStatus.Stage] = [:]
    var lastTreeHead: TreeHead?
    /// Witnessing (`Node+Witnessing`, `Node+Cosigning`): our witness of peers' logs, our offers to theirs.
    lazy var witnessDesk = WitnessDesk(folder: witnessFolder)
    var witnessOffers = WitnessOffers()
    /// Receipt proofs owed to senders and the quorum-cosigned checkpoint (`Node+ReceiptProofs`).
    var receiptProofs = ReceiptProofState()
    /// History checks with peers (`Node+History`): co-recipient digests, copies asked for, alarms.
    var history = HistoryExchange()
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
        var references: [UUID]
        var tlp: TLP
        /// A request's deadline (`iias requests`).
        var responseDeadline: Date? = nil
        /// The envelope's creation time (its header's).
        var created: Date
        /// The attachments it announces (without their keys).
        var attachments: [AnnouncedAttachment] = []
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
        self.attachments = try AttachmentCenter(dataDirectory: configuration.dataDirectory, limit: configuration.limits.maxAttachmentBytes,
                                                spare: configuration.limits.attachmentSpareBytes,
                                                sentRetention: TimeInterval(configuration.limits.sentAttachmentRetentionDays) * 86_400, logger: logger)
        self.group = group
        self.ledger = ledger
        self.desk = Self.loadDeskIndex(configuration: configuration, log: log, ledger: ledger, key: crypto.deskIndexKey, logger: logger)
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
        recordAttachmentsInLog()
        for peer in configuration.peers {
            let link = makeLink(to: peer)
            peers[peer.center] = link
            link.enqueue(ledger.pendingEntries(for: peer.center))
        }
        attachments.resume { id, peer in ledger.deliveryState(of: id, for: peer).map { $0 != .queued && $0 != .sent } ?? false }
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
        background.append(startHistory())
        background.append(Task { [weak self] in await self?.expiryLoop() })
        advanceDesk()
        background.append(Task { [weak self] in await self?.requestDeadlineLoop() })
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
        deskReader?.cancel()
        try? await listener?.close()
        for link in peers.values { await link.stop() }
        for channel in inboundChannels.values { try? await channel.close() }
        for sink in subscribers.values { sink(nil) }
        subscribers.removeAll()
        await appendTreeHeadIfGrown(coveringCosignRecords: true)
        await saveSnapshot()
        await saveDeskIndex()
        saveSentThrough(force: true)
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
        for link in peers.values { await link.use(crypto) }
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
            let link = makeLink(to: peer)
            peers[center] = link
            link.enqueue(ledger.pendingEntries(for: center))
            link.start()
        }
        trustFilesSeen = trustFilesState()
        logger.info("reloaded the CA, CRL, certificates and peers", metadata: ["peers": "\(accepted.peers.count)"])
        checkExpiry(logging: true)
    }

    /// The newest signed tree head the log wrote to its `checkpoint` file, if any.
    static func storedTreeHead(logDirectory: String) -> TreeHead? {
        guard let data = FileManager.default.contents(atPath: (logDirectory as NSString).appendingPathComponent(LogStore.checkpointFileName)),
              let note = String(data: data, encoding: .utf8), let checkpoint = try? SignedNote(parsing: note).checkpoint() else { return nil }
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

    /// Signs and appends a tree head when entries were added since the last one (`cosign`
    /// records alone count only when `coveringCosignRecords`: at the last tree head, on stop).
    func appendTreeHeadIfGrown(coveringCosignRecords: Bool = false) async {
        let covered = coveringCosignRecords ? lastTreeHead.map { $0.treeSize + 1 } ?? 0 : treeHeadSize
        guard log.count > covered || lastTreeHead == nil, log.count > 0, treeHeadsAllowed() else { return }
        do {
            let checkpoint = try await log.appendTreeHead(signer: configuration.center.rawValue, key: crypto.keys.signingKey, epoch: currentEpoch())
            treeHeadSize = log.count
            ledger.skip(checkpoint.treeSize)
            let note = checkpoint.signedNote(key: crypto.keys.signingKey)
            lastTreeHead = TreeHead(treeSize: checkpoint.treeSize, rootHash: Data(checkpoint.rootHash).base64EncodedString(), checkpoint: note)
            await offerTreeHead()
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

    // MARK: - Links

    /// A link to `peer`, reading our envelopes from the log and reporting to this node.
    func makeLink(to peer: NodeConfiguration.Peer) -> PeerLink {
        let log = self.log
        return PeerLink(peer: peer, limits: limits, crypto: crypto, logger: logger, delegate: self,
                        readEnvelope: { index in try? log.entry(at: index).payload }, attachments: attachments.sender(for: peer.center))
    }

    /// SHA-256 of a logged envelope: remembered while ours waits for receipts, otherwise
    /// read back from the log (the fold keeps no digests).
    func digest(ofEntry index: UInt64) -> [UInt8]? {
        if let known = awaitingReceipts[index] { return known }
        return (try? log.entry(at: index)).map { SHA256.hash($0.payload) }
    }

    /// At most this many digests of our unanswered envelopes are kept (about 100 bytes
    /// each); beyond it, receipts are matched by reading the envelope back.
    static let awaitingReceiptsLimit = 8192
}

extension Node: PeerLinkDelegate {
    func linkChanged(_ status: PeerStatus) async {
        emit(.peer(status))
        await witnessLinkChanged(status)
        await historyLinkChanged(status)
    }
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
                  subject: notification.subject, inReplyTo: notification.inReplyTo, references: notification.references, tlp: notification.handling.tlp,
                  responseDeadline: notification.responseDeadline, created: created, attachments: AnnouncedAttachment.from(notification))
    }
}
