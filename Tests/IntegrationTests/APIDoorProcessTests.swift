import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The local API's door on a running node: removing a user from `api.users` and sending
/// SIGHUP closes their open event stream and refuses their next request; a local account
/// that is not allowed, holding 300 slow connections, does not lock an operator out.
final class APIDoorProcessTests: XCTestCase {
    func testARemovedUserLosesTheirEventStreamAndTheirNextRequestOnSIGHUP() async throws {
        let me = LocalCluster.currentUser
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []], users: ["\(me)=operator"])
        try cluster.start("AZ")
        let client = cluster.client("AZ")
        _ = try await client.status()
        let events = try await client.events()
        let ended = Task {
            do { for try await _ in events {} } catch {}
            return ContinuousClock.now
        }

        try cluster.writeConfiguration("AZ", pki: TestPKI.shared.layout, peers: [], users: ["someone-else=operator"])
        let signalled = ContinuousClock.now
        cluster.signal("AZ", SIGHUP)
        let closedAfter = try await withDeadline(seconds: 10, "the event stream is closed") { await ended.value } - signalled
        XCTAssertLessThan(closedAfter, .seconds(5))

        do {
            _ = try await LocalAPIClient(socketPath: cluster.socketPath("AZ")).status()
            XCTFail("a removed user's next request was answered")
        } catch LocalAPIClient.Failure.refused(let status, let body) {
            XCTAssertEqual(status, 403)
            XCTAssertEqual(body.error, "user \(me) is not allowed on this node's socket")
        }
        let cli = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("AZ")], timeout: 30)
        XCTAssertNotEqual(cli.status, 0)
        XCTAssertTrue(cli.stderr.contains("403") || cli.stderr.contains("not allowed"), cli.stderr)
        XCTAssertTrue(cluster.isRunning("AZ"))
    }

    func testAnAccountNotAllowedWith300SlowConnectionsDoesNotLockAnOperatorOut() async throws {
        guard getuid() == 0 else { throw XCTSkip("acting as another uid needs root (the tests run as root in CI)") }
        guard let nobody = getpwnam("nobody")?.pointee, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), let group = getgrgid(nobody.pw_gid)?.pointee.gr_name else {
            throw XCTSkip("needs the nobody account, /usr/bin/setpriv (util-linux) and /usr/bin/python3")
        }
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []], extra: [:])
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("AZ"))) as! [String: Any]
        config["api"] = ["socket": cluster.socketPath("AZ"), "group": String(cString: group), "users": ["\(LocalCluster.currentUser)=operator"]]
        try JSONSerialization.data(withJSONObject: config).write(to: cluster.configURL("AZ"))
        try cluster.start("AZ")

        // nobody opens 300 connections and keeps each request's head coming a byte at a time.
        let script = cluster.folder.appendingPathComponent("slow.py")
        try Self.slowClient.write(to: script, atomically: true, encoding: .utf8)
        chmod(cluster.folder.path, 0o755)
        chmod(script.path, 0o644)
        let slow = try RunningProcess("/usr/bin/setpriv", ["--reuid=\(nobody.pw_uid)", "--regid=\(nobody.pw_gid)", "--clear-groups",
                                                          "/usr/bin/python3", script.path, cluster.socketPath("AZ"), "300"])
        defer { slow.kill() }
        let opened = try slow.nextLine(timeout: 60)
        XCTAssertTrue(opened.hasPrefix("connected 300"), "\(opened)\n\(slow.errorOutput)")

        let started = Date()
        let status = try ProcessRunner.run(RepositoryPaths.iiasExecutable, ["status", "--socket", cluster.socketPath("AZ")], timeout: 30)
        XCTAssertEqual(status.status, 0, "the operator's `iias status` failed:\n\(status.stderr)")
        XCTAssertTrue(status.stdout.contains("AZ"), status.stdout)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        let report = try slow.command("count", timeout: 30)
        let stillOpen = Int(report.split(separator: " ").last ?? "") ?? -1
        XCTAssertLessThanOrEqual(stillOpen, 4, "at most 4 of nobody's connections are held (a uid outside api.users): \(report)")
    }

    /// Opens N connections to the socket, each sending the start of a request head, then
    /// one more header byte on each every 200 ms; on "count" from standard input, prints
    /// how many the node has not closed.
    static let slowClient = """
    import select, socket, sys, threading, time
    path, n = sys.argv[1], int(sys.argv[2])
    conns = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        try: s.send(b"POST /v1/notifications HTTP/1.1\\r\\nHost: localhost\\r\\nX-Slow: ")
        except OSError: pass
        conns.append(s)
    print("connected", len(conns), flush=True)
    def is_open(s):
        try:
            r, _, _ = select.select([s], [], [], 0)
            return not r or len(s.recv(4096, socket.MSG_PEEK)) > 0
        except OSError:
            return False
    def trickle():
        while True:
            time.sleep(0.2)
            for s in conns:
                try: s.send(b"a")
                except OSError: pass
    threading.Thread(target=trickle, daemon=True).start()
    while sys.stdin.readline():
        print("open", sum(1 for s in conns if is_open(s)), flush=True)
    """

    private func withDeadline<T: Sendable>(seconds: Double, _ what: String, _ body: @escaping @Sendable () async -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await body() }
            group.addTask { try await Task.sleep(for: .seconds(seconds)); return nil }
            defer { group.cancelAll() }
            guard let value = try await group.next() ?? nil else {
                XCTFail("not within \(seconds) s: \(what)")
                throw TestFailure("timed out: \(what)")
            }
            return value
        }
    }
}
