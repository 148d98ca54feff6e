import Foundation
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
