import ArgumentParser
import Foundation
import IIASAPI
import IIASModel

/// Where the local node's socket is: --socket, else $IIAS_SOCKET, else the packaged default.
struct SocketOptions: ParsableArguments {
    static let defaultPath = "/run/iias/iias.sock"

    @Option(name: .long, help: ArgumentHelp("The node's local API socket (default: $IIAS_SOCKET or \(SocketOptions.defaultPath)).", valueName: "path"))
    var socket: String?

    var client: LocalAPIClient {
        LocalAPIClient(socketPath: socket ?? ProcessInfo.processInfo.environment["IIAS_SOCKET"] ?? Self.defaultPath)
    }
}

/// Exit codes of the operator commands, which talk to a running node.
enum OperatorExit {
    /// The node refused (a 4xx answer: invalid, not found, not allowed).
    static let refused: Int32 = 1
    /// The node could not be reached, or answered 5xx.
    static let unreachable: Int32 = 3

    /// Runs `body`, turning client failures into messages with hints and meaningful exit codes.
    static func run<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let failure as LocalAPIClient.Failure {
            switch failure {
            case .unreachable:
                throw CLIFailure(message: failure.description, hint: failure.hint, exitCode: unreachable)
            case .refused(let status, _) where status >= 500:
                throw CLIFailure(message: failure.description, hint: failure.hint, exitCode: unreachable)
            case .refused, .malformedAnswer:
                throw CLIFailure(message: failure.description, hint: failure.hint, exitCode: refused)
            }
        }
    }

    static let discussion = """
    These commands talk to the local node over its Unix socket; your OS user
    must be in the node's api.users list. Exit codes: 0 done, 1 the node
    refused (the reason is printed), 2 usage, 3 the node is unreachable.
    """
}
