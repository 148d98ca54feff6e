import ArgumentParser
import Foundation

/// The one executable: node, operator and auditor commands.
struct IIAS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iias",
        abstract: "Exchange signed, end-to-end encrypted notifications between national centers.",
        discussion: """
        Operators (through the local node's socket: --socket or $IIAS_SOCKET):
          iias send      sign, encrypt and deliver (--to all: every peer)
          iias inbox     received notifications; then read, ack, reply ID
          iias outbox    what this center sent; each recipient's receipt
          iias watch     follow arrivals as they happen (flash stands out)
          iias status    the node at a glance; iias peers: its links

        Administrators:
          iias node run --config FILE   run this center's node (see --help)

        Offline (no node needed):
          iias compose   build and validate a notification; --seal: envelope
          iias open      verify an envelope's sender, decrypt as a recipient
          iias audit     verify envelopes and proofs; export for openssl
          iias log       verify a log; prove an entry or the log's growth
          iias peer check HOST:PORT   test a peer: mutual TLS 1.3, HELLO, PING

        Exit codes: 0 success, 1 invalid, did not verify or refused by the
        node, 2 usage or I/O error, 3 the node is unreachable.
        Keys and certificates come from Scripts/pki.sh (see Certs/README.md).
        """,
        version: "0.5.0",
        subcommands: [Send.self, Inbox.self, Read.self, ThreadCommand.self, Reply.self, Ack.self, Outbox.self, Attachments.self, Requests.self, Status.self, Alarms.self, Peers.self, Watch.self,
                      Compose.self, Open.self, Audit.self, Log.self, Peer.self, NodeCommand.self]
    )
}

@main
enum Main {
    static func main() async {
        do {
            var command = try IIAS.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            if let failure = CLIFailure.within(error) {
                Terminal.error(failure.message, hint: failure.hint)
                exit(failure.exitCode)
            }
            let code = IIAS.exitCode(for: error)
            if code == .success {
                print(IIAS.fullMessage(for: error))
                exit(0)
            }
            FileHandle.standardError.write(Data((IIAS.fullMessage(for: error) + "\n").utf8))
            exit(CLIFailure.usageCode)
        }
    }
}

/// A failure the user can act on: what went wrong, what to do next, and an exit code
/// that tells scripts which kind of failure it was.
struct CLIFailure: Error {
    static let invalidCode: Int32 = 1
    static let usageCode: Int32 = 2

    let message: String
    let hint: String?
    let exitCode: Int32

    /// The data given is invalid or did not verify (exit 1).
    static func invalid(_ message: String, hint: String? = nil) -> CLIFailure {
        CLIFailure(message: message, hint: hint, exitCode: invalidCode)
    }

    /// The command was used wrongly or a file could not be read (exit 2).
    static func usage(_ message: String, hint: String? = nil) -> CLIFailure {
        CLIFailure(message: message, hint: hint, exitCode: usageCode)
    }

    /// The failure `error` is or carries: ArgumentParser wraps what a command's
    /// `validate()` throws in an error of its own, and a check of the arguments made there
    /// must end the same way as one made in `run()` (same message, hint and exit code).
    static func within(_ error: any Error, depth: Int = 0) -> CLIFailure? {
        if let failure = error as? CLIFailure { return failure }
        guard depth < 4 else { return nil }
        for child in Mirror(reflecting: error).children {
            if let inner = child.value as? any Error, let failure = within(inner, depth: depth + 1) { return failure }
        }
        return nil
    }
}
