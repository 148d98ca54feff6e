import Foundation
import IIASModel

/// How a link to a peer stands.
public enum PeerConnectionState: String, Sendable, Codable, CaseIterable {
    case connected, connecting, backingOff = "backing-off", refused
}

/// A configured peer and its link, for `iias peers`.
public struct PeerStatus: Sendable, Codable, Equatable {
    public var center: CenterID
    public var address: String
    public var state: PeerConnectionState
    /// Notifications waiting for this peer's receipt.
    public var queued: Int
    public var lastConnected: Date?
    public var lastError: String?
    /// Days until the peer's TLS certificate expires, once seen.
    public var certificateDaysLeft: Int?
    /// While backing off: when the link tries again (sooner if the peer connects to us).
    public var nextAttempt: Date?
    /// The peer's signing or encryption certificate that expires first (the folder's).
    public var earliestCertificate: ExpiryReport.Item?

    /// Whole days until the first of the peer's certificates (TLS included) expires.
    public var daysLeft: Int? {
        [certificateDaysLeft, earliestCertificate?.daysLeft].compactMap { $0 }.min()
    }

    public init(center: CenterID, address: String, state: PeerConnectionState, queued: Int, lastConnected: Date? = nil,
                lastError: String? = nil, certificateDaysLeft: Int? = nil, nextAttempt: Date? = nil) {
        self.nextAttempt = nextAttempt
        self.center = center
        self.address = address
        self.state = state
        self.queued = queued
        self.lastConnected = lastConnected
        self.lastError = lastError
        self.certificateDaysLeft = certificateDaysLeft
    }
}

/// The newest signed tree head of this node's log (a C2SP signed note).
public struct TreeHead: Sendable, Codable, Equatable {
    public var treeSize: UInt64
    /// Base64 of the RFC 9162 root hash.
    public var rootHash: String
    /// The whole signed note, verifiable with the node's signing certificate.
    public var checkpoint: String

    public init(treeSize: UInt64, rootHash: String, checkpoint: String) {
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.checkpoint = checkpoint
    }
}

/// The node at a glance, for `iias status`.
public struct NodeStatus: Sendable, Codable, Equatable {
    public var center: CenterID
    public var version: String
    public var started: Date
    public var logEntries: UInt64
    public var inbox: Int
    public var unread: Int
    public var outboxPending: Int
    public var peersConnected: Int
    public var peersConfigured: Int
    public var treeHead: TreeHead?
    /// Time left on our certificates, the peers' and the CRL (nil from older nodes).
    public var expiry: ExpiryReport?
    /// Notifications the node has still to read for threads and requests (after a first
    /// start on a long log, or a lost desk index); nil or 0 when it is up to date.
    public var deskPending: Int?
    /// The peer centers whose cosignature of `treeHead` the node holds (nil from older nodes).
    public var cosignedBy: [CenterID]?
    /// Split views the node's witness found, each with its evidence file (nil or empty: none).
    public var splitViews: [String]?
    /// The newest checkpoint a quorum of peers cosigned and the log's lag behind it (nil from older nodes).
    public var witnessed: WitnessedStatus?
    /// Every history alarm held — split views, equivocations, a restored log, rolled-back
    /// witness states — each with its key and acknowledgement (nil or empty: none).
    public var historyAlarms: [HistoryAlarm]?

    public init(center: CenterID, version: String, started: Date, logEntries: UInt64, inbox: Int, unread: Int,
                outboxPending: Int, peersConnected: Int, peersConfigured: Int, treeHead: TreeHead?, expiry: ExpiryReport? = nil) {
        self.center = center
        self.version = version
        self.started = started
        self.logEntries = logEntries
        self.inbox = inbox
        self.unread = unread
        self.outboxPending = outboxPending
        self.peersConnected = peersConnected
        self.peersConfigured = peersConfigured
        self.treeHead = treeHead
        self.expiry = expiry
    }
}

