import Foundation
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// Real `iias node run` processes on 127.0.0.1 for one test: configurations in a temporary
/// folder, ports chosen up front, the test PKI's keys, and every process killed when the
/// cluster is released.
final class NodeCluster: @unchecked Sendable {
    let folder: URL
    let centers: [String]
    private(set) var ports: [String: Int] = [:]
    private var processes: [String: RunningProcess] = [:]
    let user = NodeCluster.currentUser

    static var currentUser: String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }

    /// `peers`: for each center, the centers it lists (default: every other center).
    init(_ centers: [String], peers: [String: [String]] = [:], users: [String]? = nil, extra: [String: Any] = [:]) throws {
        folder = try makeTemporaryDirectory("cluster")
        self.centers = centers
        let all = Set(centers + peers.values.flatMap { $0 })
        for center in all { ports[center] = try Self.freePort() }
        for center in centers {
            let listed = peers[center] ?? centers.filter { $0 != center }
            var config: [String: Any] = [
                "center": center,
                "keys": TestPKI.shared.centerDirectory(center),
                "ca": TestPKI.shared.caFile,
                "crl": TestPKI.shared.crlFile,
                "certificates": TestPKI.shared.centersDirectory,
                "listen": "127.0.0.1:\(ports[center]!)",
                "peers": listed.map { "\($0)=127.0.0.1:\(ports[$0]!)" },
                "data": folder.appendingPathComponent("data-\(center)").path,
                "api": ["socket": socketPath(center), "users": (users ?? ["\(user)=operator"])],
                "limits": ["retryInitialSeconds": 0.1, "retryMaxSeconds": 1.0],
                "treeHeadIntervalSeconds": 3600,
            ]
            for (key, value) in extra { config[key] = value }
            let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: configURL(center))
        }
    }

    deinit { for process in processes.values { process.kill() } }

    func configURL(_ center: String) -> URL { folder.appendingPathComponent("\(center).json") }
    func socketPath(_ center: String) -> String { folder.appendingPathComponent("\(center).sock").path }
    func logDirectory(_ center: String) -> String { folder.appendingPathComponent("data-\(center)/log").path }
    func client(_ center: String) -> LocalAPIClient { LocalAPIClient(socketPath: socketPath(center), timeout: .seconds(30)) }

    /// Starts `center` and waits for its "ready" line.
    func start(_ center: String) throws {
        let process = try RunningProcess(RepositoryPaths.iiasExecutable, ["node", "run", "--config", configURL(center).path])
        processes[center] = process
        let line = try process.nextLine(timeout: 60)
        guard line.hasPrefix("ready center=\(center)") else { throw TestFailure("\(center) did not start: \(line)\n\(process.errorOutput)") }
    }

    func startAll() throws { for center in centers { try start(center) } }

    /// SIGTERM and wait: the node drains and closes its log.
    @discardableResult
    func stop(_ center: String) -> Int32 {
        guard let process = processes.removeValue(forKey: center) else { return -1 }
        process.kill(SIGTERM)
        return process.process.terminationStatus
    }

    func signal(_ center: String, _ signal: Int32) {
        if let process = processes[center] { kill(process.process.processIdentifier, signal) }
    }

    func stopAll() { for center in Array(processes.keys) { stop(center) } }

    func errorOutput(_ center: String) -> String { processes[center]?.errorOutput ?? "" }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { throw TestFailure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A notification draft as the API takes it.
    static func draft(to recipients: [String], subject: String, priority: String = "routine", category: String = "terrorism") -> [String: Any] {
        ["recipients": recipients, "category": category, "priority": priority, "handling": ["tlp": "TLP:AMBER"],
         "subject": subject, "summary": "Integration test notification: \(subject)."]
    }
}

/// Polls `condition` until it holds or `timeout` passes (then fails with `message`).
func eventually(_ message: @autoclosure () -> String, timeout: TimeInterval = 60, file: StaticString = #filePath, line: UInt = #line,
                _ condition: () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    if try await condition() { return }
    XCTFail("not within \(Int(timeout)) s: \(message())", file: file, line: line)
    throw TestFailure("timed out: \(message())")
}
