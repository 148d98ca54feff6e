import Configuration
import Foundation
import IIASAPI
import IIASCrypto
import IIASLog
import IIASModel
import SystemPackage

/// Everything a node needs to start, read once from a JSON file with environment
/// overrides (swift-configuration), and checked as a whole before anything starts, so
/// that a mistake stops start-up with a message naming the key instead of a failure at
/// 3 a.m. when the first peer connects.
public struct NodeConfiguration: Sendable, Equatable {
    /// A host and port, as written in the file ("127.0.0.1:7443", "[::1]:7443", "ge.example:7443").
    public struct Address: Sendable, Equatable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

        /// Parses HOST:PORT; `allowZero` accepts port 0 (any free port, for tests).
        public init?(_ text: String, allowZero: Bool = false) {
            guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
                  let port = Int(text[text.index(after: colon)...]), (allowZero ? 0 : 1)...65535 ~= port else { return nil }
            var host = String(text[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else { return nil }
            self.host = host
            self.port = port
        }
    }

    /// A configured peer center and where to reach it.
    public struct Peer: Sendable, Equatable {
        public var center: CenterID
        public var address: Address
    }

    /// Bounds on what peers and local clients may make the node hold.
    public struct Limits: Sendable, Equatable {
        /// Largest frame accepted from a peer (type + body).
        public var maxFrameBytes: Int = 16 << 20
        /// Notifications that may wait for one peer before submissions are refused.
        public var queueDepth: Int = 100_000
        /// Envelopes sent to one peer and not yet receipted.
        public var window: Int = 64
        /// First retry delay after a failed connection; doubles up to `retryMaxSeconds`.
        public var retryInitialSeconds: Double = 1
        public var retryMaxSeconds: Double = 300
        /// How far an envelope's creation time may be from our clock.
        public var clockSkewSeconds: Double = 300
        /// Largest request body on the local API.
        public var maxRequestBytes: Int = 2 << 20
        /// Largest attachment (plaintext bytes) accepted for upload or from a peer: 1 GiB.
        public var maxAttachmentBytes: Int = 1 << 30
        /// Free space a recipient keeps beside attachments: below it, chunks wait for space.
        public var attachmentSpareBytes: Int = 64 << 20
        /// Days a sender keeps an attachment's ciphertext after every recipient ended its
        /// transfer, so a recipient whose copy is damaged can fetch it again; 0 removes it at once.
        public var sentAttachmentRetentionDays: Int = 30
        /// Event lines that may wait for a client of `GET /v1/events` that does not read
        /// before the node closes its stream.
        public var maxEventBacklogBytes: Int = 8 << 20
        /// Zeros the log writes ahead of its records at a time (`LogStore.preallocate`): its
        /// fdatasyncs then write data, not a new size; 0 turns it off (a disk whose bound is
        /// bandwidth rather than latency may do better without).
        public var logPreallocationBytes: Int = LogStore.defaultPreallocation
        /// Peer connections open at once (handshaking or established), and from one IP
        /// address: past them a new connection is closed as it is accepted, so a flood of
        /// connections cannot take the descriptors the log and real peers need.
        public var maxPeerConnections: Int = 256
        public var maxPeerConnectionsPerAddress: Int = 16
        /// Local API connections open at once (each event stream holds one), and those of
        /// one uid in `api.users` (one operator's runaway script cannot take every place; a
        /// uid outside the list may hold only 4, each waiting to be told 403).
        public var maxAPIConnections: Int = 256
        public var maxAPIConnectionsPerUser: Int = 128
        /// How long one whole request on the local API may take to arrive (counted from the
        /// connection's opening or the previous answer, not restarted by each byte).
        public var apiRequestSeconds: Double = 30
    }

    public var center: CenterID
    /// The folder holding signing/encryption/tls .key and .crt, as Scripts/pki.sh writes it.
    public var keyDirectory: String
    /// Where the passphrase of encrypted key files comes from; nil: the keys are not encrypted.
    public var keyPassphrase: KeyPassphraseSource?
    public var caFile: String
    /// The CA's CRL; nil only when the file says `"crl": "none"` (revocation deliberately off).
    public var crlFile: String?
    /// The folder holding the peers' signing and encryption certificates.
    public var certificateDirectory: String
    public var listen: Address
    public var peers: [Peer]
    public var dataDirectory: String
    public var socketPath: String
    /// The group that owns the socket (mode 0660); nil keeps the daemon's own group.
    public var socketGroup: String?
    /// Local users allowed on the socket and what they may do.
    public var users: [String: Role]
    /// Loopback address of the Prometheus endpoint; nil: no metrics endpoint.
    public var metrics: Address?
    public var limits: Limits
    /// How often a signed tree head is appended while the log grows.
    public var treeHeadIntervalSeconds: Double
    /// How often the node rescans its certificates folder, CRL and key folder on its own
    /// (as SIGHUP does), so a peer's rotated certificates are picked up unattended.
    public var certificateRescanSeconds: Double
    /// The envelope version this node seals: 2 (content keys wrapped under an epoch
    /// key), or 1 (a sealed box per recipient) while some peer still runs a build that
    /// reads only version 1. Every build reads version 1, so a rolling upgrade sets 1
    /// until the last peer is upgraded, then 2.
    public var envelopeVersion: UInt8
    /// Default request deadlines by priority and how often they are checked (`requests.*`).
    public var requests = RequestDeadlines()
    /// Witnessing: on or off, and the quorum of peers' cosignatures a checkpoint needs (`witness.*`).
    public var witness = Witnessing()

    /// Why the configuration cannot be used; `key` is the configuration key at fault.
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var key: String
        public var message: String
        public var description: String { "\(key): \(message)" }
        public init(key: String, message: String) {
            self.key = key
            self.message = message
        }
    }

    /// The environment variable that overrides `key` (swift-configuration's encoding):
    /// `limits.maxFrameBytes` → `IIAS_LIMITS_MAX_FRAME_BYTES`.
    public static func environmentName(of key: String) -> String {
        var name = "IIAS"
        for component in key.split(separator: ".") {
            name += "_"
            var previous: Character?
            for character in component {
                if let previous, previous.isLowercase, character.isUppercase { name += "_" }
                name += character.isLetter || character.isNumber ? character.uppercased() : "_"
                previous = character
            }
        }
        return name
    }

    /// Reads `file` (JSON) with `IIAS_*` environment variables taking precedence, then checks it.
    public static func load(file: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws(Problem) -> NodeConfiguration {
        guard let bytes = FileManager.default.contents(atPath: file) else {
            let exists = FileManager.default.fileExists(atPath: file)
            throw Problem(key: "(file)", message: exists ? "\(file) cannot be read by this user (check its owner and mode)"
                                                          : "\(file) does not exist (see `iias node run --help` for an example)")
        }
        try checkDocument(Array(bytes), file: file)
        let fileProvider: FileProvider<JSONSnapshot>
        do {
            fileProvider = try await FileProvider<JSONSnapshot>(filePath: FilePath(file))
        } catch {
            let exists = FileManager.default.fileExists(atPath: file)
            throw Problem(key: "(file)", message: exists ? "\(file) is not a JSON object: \(error)"
                                                          : "\(file) does not exist (see `iias node run --help` for an example)")
        }
        let variables = environment.filter { $0.key.hasPrefix("IIAS_") }
        let environmentProvider = KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: variables)) {
            $0.prepending(["iias"])
        }
        let reader = ConfigReader(providers: [environmentProvider, fileProvider])
        return try NodeConfiguration(reader: reader, relativeTo: (file as NSString).deletingLastPathComponent)
    }

    /// Builds and checks a configuration from any reader (the file + environment, or a test's values).
    /// Relative paths are taken relative to `base` (the configuration file's folder).
    public init(reader: ConfigReader, relativeTo base: String) throws(Problem) {
        let values = Values(reader: reader, base: base)
        center = try values.center("center")
        keyDirectory = try values.directory("keys")
        keyPassphrase = try values.keyPassphrase()
        caFile = try values.file("ca")
        if try values.optionalString("crl") == "none" {
            crlFile = nil
        } else {
            guard try values.optionalString("crl") != nil else {
                throw Problem(key: "crl", message: "missing: without the CA's CRL the node cannot refuse revoked centers. Name the CRL file (Scripts/pki.sh writes pki/crl.pem), or write \"crl\": \"none\" to run without revocation checks deliberately")
            }
            crlFile = try values.file("crl")
        }
        certificateDirectory = try values.directory("certificates")
        guard let listen = Address(try values.string("listen"), allowZero: true) else {
            throw Problem(key: "listen", message: "expected host:port, e.g. 0.0.0.0:7443, found \"\(values.raw("listen"))\"")
        }
        self.listen = listen
        peers = try values.peers("peers", own: center)
        dataDirectory = values.path(try values.string("data"))
        socketPath = values.path(try values.string("api.socket"))
        guard socketPath.utf8.count < 100 else {
            throw Problem(key: "api.socket", message: "a Unix socket path must be shorter than 100 bytes (found \(socketPath.utf8.count))")
        }
        socketGroup = try values.optionalString("api.group")
        users = try values.users("api.users")
        if let text = try values.optionalString("metrics.listen") {
            guard let address = Address(text, allowZero: true) else {
                throw Problem(key: "metrics.listen", message: "expected host:port on loopback, e.g. 127.0.0.1:9464, found \"\(text)\"")
            }
            guard ["127.0.0.1", "::1", "localhost"].contains(address.host) else {
                throw Problem(key: "metrics.listen", message: "the metrics endpoint has no authentication: bind it to loopback (127.0.0.1 or ::1)")
            }
            metrics = address
        } else {
            metrics = nil
        }
        var limits = Limits()
        limits.maxFrameBytes = try values.int("limits.maxFrameBytes", default: limits.maxFrameBytes, in: 64 << 10...(64 << 20))
        limits.queueDepth = try values.int("limits.queueDepth", default: limits.queueDepth, in: 1...10_000_000)
        limits.window = try values.int("limits.window", default: limits.window, in: 1...4096)
        limits.retryInitialSeconds = try values.double("limits.retryInitialSeconds", default: limits.retryInitialSeconds, in: 0.01...3600)
        limits.retryMaxSeconds = try values.double("limits.retryMaxSeconds", default: limits.retryMaxSeconds, in: limits.retryInitialSeconds...86_400)
        limits.clockSkewSeconds = try values.double("limits.clockSkewSeconds", default: limits.clockSkewSeconds, in: 1...86_400)
        limits.maxRequestBytes = try values.int("limits.maxRequestBytes", default: limits.maxRequestBytes, in: 4096...(64 << 20))
        limits.maxAttachmentBytes = try values.int("limits.maxAttachmentBytes", default: limits.maxAttachmentBytes, in: 0...(1 << 36))
        limits.attachmentSpareBytes = try values.int("limits.attachmentSpareBytes", default: limits.attachmentSpareBytes, in: 0...(1 << 40))
        limits.sentAttachmentRetentionDays = try values.int("limits.sentAttachmentRetentionDays", default: limits.sentAttachmentRetentionDays,
                                                            in: 0...3650)
        limits.maxEventBacklogBytes = try values.int("limits.maxEventBacklogBytes", default: limits.maxEventBacklogBytes, in: 4096...(1 << 30))
        limits.logPreallocationBytes = try values.int("limits.logPreallocationBytes", default: limits.logPreallocationBytes, in: 0...(64 << 20))
        limits.maxPeerConnections = try values.int("limits.maxPeerConnections", default: limits.maxPeerConnections, in: 1...65_536)
        limits.maxPeerConnectionsPerAddress = try values.int("limits.maxPeerConnectionsPerAddress", default: limits.maxPeerConnectionsPerAddress,
                                                             in: 1...limits.maxPeerConnections)
        limits.maxAPIConnections = try values.int("limits.maxAPIConnections", default: limits.maxAPIConnections, in: 1...65_536)
        limits.maxAPIConnectionsPerUser = try values.int("limits.maxAPIConnectionsPerUser", default: min(limits.maxAPIConnectionsPerUser, limits.maxAPIConnections),
                                                         in: 1...limits.maxAPIConnections)
        limits.apiRequestSeconds = try values.double("limits.apiRequestSeconds", default: limits.apiRequestSeconds, in: 0.1...3600)
        self.limits = limits
        treeHeadIntervalSeconds = try values.double("treeHeadIntervalSeconds", default: 60, in: 1...86_400)
        certificateRescanSeconds = try values.double("certificateRescanSeconds", default: 300, in: 1...86_400)
        // From 0.001 h (3.6 s, for tests) to 90 days: a deadline past that is no deadline.
        requests.flashHours = try values.double("requests.deadlineHours.flash", default: requests.flashHours, in: 0.001...2160)
        requests.urgentHours = try values.double("requests.deadlineHours.urgent", default: requests.urgentHours, in: 0.001...2160)
        requests.routineHours = try values.double("requests.deadlineHours.routine", default: requests.routineHours, in: 0.001...2160)
        requests.checkSeconds = try values.double("requests.checkSeconds", default: requests.checkSeconds, in: 0.1...3600)
        witness.enabled = try values.bool("witness.enabled", default: true)
        witness.quorum = try values.int("witness.quorum", default: Witnessing.majority(of: peers.count), in: 1...max(1, peers.count))
        witness.proofWaitSeconds = try values.int("witness.proofWaitSeconds", default: witness.proofWaitSeconds, in: 1...604_800)
        envelopeVersion = UInt8(try values.int("envelopeVersion", default: Int(Envelope.currentVersion),
                                               in: Int(Envelope.supportedVersions.lowerBound)...Int(Envelope.supportedVersions.upperBound)))
    }

    /// Files the node reads at start-up that must be readable by its own user only.
    public var privateKeyFiles: [String] {
        ["signing.key", "encryption.key", "tls.key"].map { (keyDirectory as NSString).appendingPathComponent($0) }
    }

    /// Refuses private key files that group or others can read or write: a key that
    /// another account could copy is a key the center no longer controls.
    public func checkKeyPermissions() throws(Problem) {
        for file in privateKeyFiles {
            var info = stat()
            guard stat(file, &info) == 0 else { throw Problem(key: "keys", message: "\(file) is missing or unreadable") }
            if info.st_mode & 0o077 != 0 {
                throw Problem(key: "keys", message: String(format: "%@ has mode %o: a private key must be readable by the node's user only (chmod 600 %@)",
                                                           file, info.st_mode & 0o777, file))
            }
        }
    }
}

/// Typed reads that turn every missing or malformed value into a `Problem` naming its key.
private struct Values {
    let reader: ConfigReader
    let base: String

    func raw(_ key: String) -> String {
        reader.string(forKey: ConfigKey(key)) ?? reader.int(forKey: ConfigKey(key)).map(String.init) ?? ""
    }

    /// Whether a failed required read means "absent" (as opposed to "wrong type").
    private func isMissing(_ error: any Error) -> Bool { String(describing: error).hasPrefix("Missing required") }

    func string(_ key: String) throws(NodeConfiguration.Problem) -> String {
        assert(NodeConfiguration.knownKeys.contains(key), "\(key) is read but not in NodeConfiguration.knownKeys")
        do {
            let value = try reader.requiredString(forKey: ConfigKey(key))
            guard !value.isEmpty else { throw NodeConfiguration.Problem(key: key, message: "must not be empty") }
            return value
        } catch let problem as NodeConfiguration.Problem {
            throw problem
        } catch {
            throw NodeConfiguration.Problem(key: key, message: isMissing(error) ? "missing (required; or set \(NodeConfiguration.environmentName(of: key)))" : "expected a string")
        }
    }

    func optionalString(_ key: String) throws(NodeConfiguration.Problem) -> String? {
        do { return try string(key) } catch where error.message.hasPrefix("missing") { return nil }
    }

    func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(NodeConfiguration.Problem) -> Int {
        assert(NodeConfiguration.knownKeys.contains(key), "\(key) is read but not in NodeConfiguration.knownKeys")
        let found: Int
        do { found = try reader.requiredInt(forKey: ConfigKey(key)) } catch {
            if isMissing(error) { return value }
            throw NodeConfiguration.Problem(key: key, message: "expected a whole number in \(range.lowerBound)…\(range.upperBound)")
        }
        guard range.contains(found) else {
            throw NodeConfiguration.Problem(key: key, message: "\(found) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return found
    }

    func double(_ key: String, default value: Double, in range: ClosedRange<Double>) throws(NodeConfiguration.Problem) -> Double {
        assert(NodeConfiguration.knownKeys.contains(key), "\(key) is read but not in NodeConfiguration.knownKeys")
        let found: Double
        do { found = try reader.requiredDouble(forKey: ConfigKey(key)) } catch {
            if isMissing(error) { return value }
            throw NodeConfiguration.Problem(key: key, message: "expected a number of seconds in \(range.lowerBound)…\(range.upperBound)")
        }
        guard range.contains(found) else {
            throw NodeConfiguration.Problem(key: key, message: "\(found) is outside \(range.lowerBound)…\(range.upperBound)")
        }
        return found
    }

    func bool(_ key: String, default value: Bool) throws(NodeConfiguration.Problem) -> Bool {
        assert(NodeConfiguration.knownKeys.contains(key), "\(key) is read but not in NodeConfiguration.knownKeys")
        do { return try reader.requiredBool(forKey: ConfigKey(key)) } catch {
            if isMissing(error) { return value }
            throw NodeConfiguration.Problem(key: key, message: "expected true or false")
        }
    }

    func stringArray(_ key: String) throws(NodeConfiguration.Problem) -> [String] {
        assert(NodeConfiguration.knownKeys.contains(key), "\(key) is read but not in NodeConfiguration.knownKeys")
        do { return try reader.requiredStringArray(forKey: ConfigKey(key)) } catch {
            if isMissing(error) { return [] }
            throw NodeConfiguration.Problem(key: key, message: "expected a list of strings")
        }
    }

    func path(_ text: String) -> String {
        text.hasPrefix("/") ? text : ((base.isEmpty ? FileManager.default.currentDirectoryPath : base) as NSString).appendingPathComponent(text)
    }

    func center(_ key: String) throws(NodeConfiguration.Problem) -> CenterID {
        let text = try string(key)
        guard let id = CenterID(rawValue: text) else {
            throw NodeConfiguration.Problem(key: key, message: "\"\(text.prefix(40))\" is not a center id (two capital letters, optionally -SUFFIX, e.g. GE or UA-SBU)")
        }
        return id
    }

    func file(_ key: String) throws(NodeConfiguration.Problem) -> String {
        let file = path(try string(key))
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw NodeConfiguration.Problem(key: key, message: "\(file) does not exist or is not readable")
        }
        return file
    }

    func directory(_ key: String) throws(NodeConfiguration.Problem) -> String {
        let folder = path(try string(key))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NodeConfiguration.Problem(key: key, message: "\(folder) is not a folder")
        }
        return folder
    }

    /// `keyPassphraseFile` or `keyPassphraseCredential`, not both; the file need not
    /// exist yet for a credential (systemd creates it when the unit starts).
    func keyPassphrase() throws(NodeConfiguration.Problem) -> KeyPassphraseSource? {
        let file = try optionalString("keyPassphraseFile"), credential = try optionalString("keyPassphraseCredential")
        switch (file, credential) {
        case (nil, nil):
            return nil
        case (_?, nil):
            return .file(try self.file("keyPassphraseFile"))
        case (nil, let name?):
            guard KeyPassphraseSource.isValidCredentialName(name) else {
                throw NodeConfiguration.Problem(key: "keyPassphraseCredential", message: "\"\(name.prefix(40))\" is not a credential name (the NAME of LoadCredential=NAME:PATH, no '/')")
            }
            return .credential(name)
        case (_?, _?):
            throw NodeConfiguration.Problem(key: "keyPassphraseFile", message: "give keyPassphraseFile or keyPassphraseCredential, not both")
        }
    }

    /// Peers are written "CENTER=host:port", so that one environment variable
    /// (IIAS_PEERS="GE=ge.example:7443,UA=ua.example:7443") can replace the list.
    func peers(_ key: String, own: CenterID) throws(NodeConfiguration.Problem) -> [NodeConfiguration.Peer] {
        var peers: [NodeConfiguration.Peer] = []
        for (position, entry) in try stringArray(key).enumerated() {
            let at = "\(key)[\(position)]"
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let center = CenterID(rawValue: parts[0]) else {
                throw NodeConfiguration.Problem(key: at, message: "expected CENTER=host:port, e.g. GE=ge.example:7443, found \"\(entry.prefix(80))\"")
            }
            guard let address = NodeConfiguration.Address(parts[1], allowZero: false) else {
                throw NodeConfiguration.Problem(key: at, message: "expected host:port after \(center)=, found \"\(parts[1].prefix(80))\"")
            }
            guard center != own else { throw NodeConfiguration.Problem(key: at, message: "\(center) is this node's own center") }
            guard !peers.contains(where: { $0.center == center }) else {
                throw NodeConfiguration.Problem(key: at, message: "\(center) is listed twice")
            }
            peers.append(.init(center: center, address: address))
        }
        return peers
    }

    /// Users are written "name=role" (role: operator or auditor).
    func users(_ key: String) throws(NodeConfiguration.Problem) -> [String: Role] {
        var users: [String: Role] = [:]
        for (position, entry) in try stringArray(key).enumerated() {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let role = Role(rawValue: parts[1]) else {
                throw NodeConfiguration.Problem(key: "\(key)[\(position)]", message: "expected user=operator or user=auditor, found \"\(entry.prefix(80))\"")
            }
            users[parts[0]] = role
        }
        return users
    }
}
