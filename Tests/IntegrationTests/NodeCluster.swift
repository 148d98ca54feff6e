import Foundation
import IIASAPI
import IIASModel
import IIASNode
import IIASTestSupport
import XCTest

/// The tests' cluster: the shared `LocalCluster` with the test PKI and the built `iias`.
typealias NodeCluster = LocalCluster

extension LocalCluster {
    convenience init(_ centers: [String], peers: [String: [String]] = [:], users: [String]? = nil, extra: [String: Any] = [:]) throws {
        try self.init(centers, pki: TestPKI.shared.layout, executable: RepositoryPaths.iiasExecutable, peers: peers, users: users, extra: extra)
    }

    func client(_ center: String) -> LocalAPIClient { LocalAPIClient(socketPath: socketPath(center), timeout: .seconds(30)) }
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

/// The value of one sample line (`name{labels} value`) in Prometheus text.
func metricValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}

/// One plain HTTP GET on 127.0.0.1 (the metrics endpoint), the whole answer as text.
func httpGet(port: Int, path: String) throws -> String {
    guard let fd = LoopbackTCP.connect(port: port) else { throw TestFailure("cannot connect to the metrics port") }
    defer { close(fd) }
    let request = "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    _ = request.withCString { write(fd, $0, strlen($0)) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        received += buffer[..<n]
    }
    return String(decoding: received, as: UTF8.self)
}
