import Foundation
import IIASModel

/// Where a PKI made by `Scripts/pki.sh` keeps its files.
public struct PKILayout: Sendable {
    public let root: String
    public init(root: String) { self.root = root }
    public var caFile: String { root + "/ca.crt" }
    public var crlFile: String { root + "/crl.pem" }
    public var centersDirectory: String { root + "/centers" }
    public func centerDirectory(_ id: String) -> String { root + "/centers/" + id }
}

/// Real `iias node run` processes on 127.0.0.1 — for tests, the benchmark and the fault
/// harness alike: configurations in a scratch folder, ports chosen up front, and every
/// process killed when the cluster is released.
public final class LocalCluster: @unchecked Sendable {
    public let folder: URL
    public let centers: [String]
    public let executable: String
    public private(set) var ports: [String: Int] = [:]
    private var processes: [String: RunningProcess] = [:]
    private let lock = NSLock()

    public static var currentUser: String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }

    /// - Parameters:
    ///   - peers: for each center, the centers it lists (default: every other center).
    ///   - addresses: a peer address to use instead of the center's own port (a fault proxy),
    ///     keyed "FROM>TO".
    ///   - extra: top-level configuration keys to add or replace.
    public init(_ centers: [String], pki: PKILayout, executable: String, peers: [String: [String]] = [:],
                users: [String]? = nil, extra: [String: Any] = [:], folder: URL? = nil) throws {
        ToolOutput.ignoreClosedPipes()   // whoever starts nodes must live to stop them
        self.folder = try folder ?? makeTemporaryDirectory("cluster")
        self.centers = centers
        self.executable = executable
        for center in Set(centers + peers.values.flatMap { $0 }) { ports[center] = try Self.freePort() }
        for center in centers {
            try writeConfiguration(center, pki: pki, peers: peers[center] ?? centers.filter { $0 != center },
                                   users: users ?? ["\(Self.currentUser)=operator"], extra: extra)
        }
    }

    /// (Re)writes `center`'s configuration; `addresses` overrides where it reaches a peer.
    public func writeConfiguration(_ center: String, pki: PKILayout, peers: [String], users: [String],
                                   extra: [String: Any] = [:], addresses: [String: String] = [:]) throws {
        var config: [String: Any] = [
            "center": center,
            "keys": pki.centerDirectory(center),
            "ca": pki.caFile,
            "crl": pki.crlFile,
            "certificates": pki.centersDirectory,
            "listen": "127.0.0.1:\(ports[center]!)",
            "peers": peers.map { "\($0)=\(addresses[$0] ?? "127.0.0.1:\(ports[$0]!)")" },
            "data": folder.appendingPathComponent("data-\(center)").path,
            "api": ["socket": socketPath(center), "users": users],
            "limits": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 1.0, "queueDepth": 1_000_000],
            "treeHeadIntervalSeconds": 3600,
        ]
        for (key, value) in extra { config[key] = value }
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: configURL(center))
    }

    deinit { for process in processes.values { process.kill() } }

    public func configURL(_ center: String) -> URL { folder.appendingPathComponent("\(center).json") }
    public func socketPath(_ center: String) -> String { folder.appendingPathComponent("\(center).sock").path }
    public func logDirectory(_ center: String) -> String { folder.appendingPathComponent("data-\(center)/log").path }

    /// Starts `center` and waits for its "ready" line (peer port and API socket open).
    /// `environment`: added to the node's (e.g. libfaketime's, to skew its clock).
    public func start(_ center: String, logLevel: String = "info", environment: [String: String]? = nil) throws {
        let process = try RunningProcess(executable, ["node", "run", "--config", configURL(center).path, "--log-level", logLevel],
                                         environment: environment)
        lock.withLock { processes[center] = process }
        let line = try process.nextLine(timeout: 60)
        guard line.hasPrefix("ready center=\(center)") else { throw TestFailure("\(center) did not start: \(line)\n\(process.errorOutput)") }
    }

    public func startAll(logLevel: String = "info") throws { for center in centers { try start(center, logLevel: logLevel) } }

    /// The process id of `center`'s node, while it runs.
    public func pid(_ center: String) -> Int32? { lock.withLock { processes[center]?.process.processIdentifier } }

    public func isRunning(_ center: String) -> Bool { lock.withLock { processes[center]?.process.isRunning ?? false } }

    /// SIGTERM (the node drains) or another signal, and waits for the exit; returns its status.
    @discardableResult
    public func stop(_ center: String, signal: Int32 = SIGTERM) -> Int32 {
        guard let process = lock.withLock({ processes.removeValue(forKey: center) }) else { return -1 }
        process.kill(signal)
        return process.process.terminationStatus
    }

    public func stopAll() { for center in lock.withLock({ Array(processes.keys) }) { stop(center) } }

    public func signal(_ center: String, _ signal: Int32) {
        if let process = lock.withLock({ processes[center] }) { kill(process.process.processIdentifier, signal) }
    }

    public func errorOutput(_ center: String) -> String { lock.withLock { processes[center]?.errorOutput ?? "" } }

    /// A TCP port on 127.0.0.1 that was free a moment ago, chosen below the kernel's
    /// ephemeral range: a port from that range (what binding port 0 gives) can be taken as
    /// the source port of some outgoing connection while its node is down — a peer
    /// reconnecting — and the node's restart then fails with "address in use".
    public static func freePort() throws -> Int {
        let ephemeralStart = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
            .flatMap { $0.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } } ?? 32768
        let range = 10_000..<max(10_001, min(ephemeralStart, 65_536))
        for _ in 0..<200 {
            let port = Int.random(in: range)
            if canBind(port) { return port }
        }
        throw TestFailure("no free port in \(range.lowerBound)–\(range.upperBound - 1) on 127.0.0.1")
    }

    private static func canBind(_ port: Int) -> Bool {
        guard let fd = LoopbackTCP.listen(port: port) else { return false }
        close(fd)
        return true
    }

    /// A notification draft as the local API takes it.
    public static func draft(to recipients: [String], subject: String, priority: String = "routine", category: String = "terrorism",
                             summaryBytes: Int = 0) -> [String: Any] {
        let json = draftJSON(to: recipients, subject: subject, priority: priority, category: category, summaryBytes: summaryBytes)
        return (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] ?? [:]
    }

    /// The same draft written as JSON by the model's writer, for `LocalAPIClient.submit(json:)`:
    /// what load generators send, so that their own encoding costs little beside the node's.
    public static func draftJSON(to recipients: [String], subject: String, priority: String = "routine", category: String = "terrorism",
                                 summaryBytes: Int = 0) -> [UInt8] {
        let filler = summaryBytes > 0 ? " " + String(repeating: "Route and vehicle details. ", count: summaryBytes / 27 + 1).prefix(summaryBytes) : ""
        return JSONWriter.bytes(.object([
            "recipients": .array(recipients.map { .string($0) }), "category": .string(category), "priority": .string(priority),
            "handling": .object(["tlp": .string("TLP:AMBER")]), "subject": .string(subject), "summary": .string("Notification \(subject).\(filler)"),
        ]))
    }
}

/// A blocking TCP client socket to 127.0.0.1, for tests that speak raw bytes.
public enum LoopbackTCP {
    /// A descriptor listening on 127.0.0.1:`port` (as another process holding the port
    /// would), or nil when the port is taken.
    public static func listen(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard bound, Glibc.listen(fd, 1) == 0 else { close(fd); return nil }
        return fd
    }

    /// A connected descriptor with a receive timeout, or nil if nothing listens on `port`.
    public static func connect(port: Int, receiveTimeout seconds: Int = 10) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); return nil }
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }
}
