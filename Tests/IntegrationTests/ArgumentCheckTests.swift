import Foundation
import IIASTestSupport
import XCTest

/// The real `iias` refusing arguments in its commands' `validate()`: each refusal is the
/// usual `error:` line with its hint and exit code 2 (not ArgumentParser's usage text and
/// its exit code 64), and comes before anything is read, opened or asked of a node — the
/// files and sockets named here do not exist, and the answer names the argument, not them.
final class ArgumentCheckTests: XCTestCase {
    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, environment: ["NO_COLOR": "1"], timeout: 60)
    }

    private let missing = "/nonexistent/iias-argument-check"

    func testArgumentRefusalsEndWithTheirMessageHintAndExitCodeTwo() throws {
        let cases: [(arguments: [String], error: String, hint: String?)] = [
            (["node", "run", "--config", missing, "--log-level", "loud"], "--log-level loud is not a level",
             "trace, debug, info, notice, warning, error or critical"),
            (["send", "--batch", missing, "--subject", "x", "--socket", missing], "--batch takes every notification whole from its file",
             "leave out the field options and --weaken-handling, or send them one at a time"),
            (["read", "3f2a9c1e", "--json", "--save", missing, "--socket", missing], "--save reports each file it saves; it does not mix with --json",
             "read with --json, then save without it"),
            (["inbox", "--from", "1x", "--socket", missing], "--from '1x' is not a center id", "e.g. --from AZ or --from ua-sbu (any case)"),
            (["watch", "--state", "lost", "--socket", missing], "--state: unknown lost",
             "one or more of queued, sent, delivered, acknowledged, refused"),
            (["reply", "3f2a9c1e", "--weaken-handling", "--socket", missing], "--weaken-handling needs the new label",
             "add --tlp (and --handling for the codes to keep)"),
            (["peer", "check", "nohost", "--key-dir", missing, "--ca", missing], "nohost is not HOST:PORT", "e.g. 127.0.0.1:7443"),
            (["peer", "check", "127.0.0.1:7443", "--timeout", "0", "--key-dir", missing, "--ca", missing], "--timeout must be 1…600 seconds", nil),
            (["audit", "verify", missing, "--ca", missing], "an audit needs the centers' certificates", "pass --certs PKI/centers"),
            (["log", "verify", missing, "--crl", missing], "signature checks need both --ca and --certs", "pass --ca PKI/ca.crt --certs PKI/centers"),
            (["log", "entries", missing, "--type", "gossip"], "--type: unknown type gossip", nil),
        ]
        for (arguments, error, hint) in cases {
            let result = try iias(arguments)
            let shown = arguments.joined(separator: " ")
            XCTAssertEqual(result.status, 2, "\(shown): \(result.stderr)")
            XCTAssertTrue(result.stderr.hasPrefix("error: " + error), "\(shown): \(result.stderr)")
            if let hint { XCTAssertTrue(result.stderr.contains("hint: " + hint), "\(shown): \(result.stderr)") }
            XCTAssertFalse(result.stderr.contains("Usage:"), "\(shown): a check of ours, not the parser's usage text")
            XCTAssertFalse(result.stderr.contains(missing), "\(shown): refused before the files or socket were touched")
            XCTAssertEqual(result.stdout, "", shown)
        }
    }

    func testGoodArgumentsPassValidationAndReachTheirWork() throws {
        // Past validate(), the command does its work and meets the missing socket: exit 3.
        let result = try iias(["inbox", "--from", "az", "--since", "2d", "--socket", missing])
        XCTAssertEqual(result.status, 3, result.stderr)
        XCTAssertTrue(result.stderr.contains(missing), result.stderr)
    }
}
