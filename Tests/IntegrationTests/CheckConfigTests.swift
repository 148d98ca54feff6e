import Foundation
import IIASAPI
import IIASNode
import IIASTestSupport
import XCTest

/// Set-up mistakes caught before start, by the real `iias`: `node check-config` exits 2
/// naming the key for each; `node run` fails with exit 2 naming the key (and the address
/// for a listener), never after printing `ready`.
final class CheckConfigTests: XCTestCase {
    /// A one-node configuration that runs, changed by `change`; its file's path.
    private func configuration(_ change: (inout [String: Any], NodeCluster) throws -> Void) throws -> (String, NodeCluster) {
        let cluster = try NodeCluster(["AZ"], peers: ["AZ": []])
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: cluster.configURL("AZ"))) as! [String: Any]
        try change(&config, cluster)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys]).write(to: cluster.configURL("AZ"))
        return (cluster.configURL("AZ").path, cluster)
    }

    private func iias(_ arguments: [String]) throws -> ProcessRunner.Result {
        try ProcessRunner.run(RepositoryPaths.iiasExecutable, arguments, timeout: 60)
    }

    func testEachMistakeExitsTwoFromCheckConfigNamingTheKey() throws {
        let (good, _) = try configuration { _, _ in }
        let fine = try iias(["node", "check-config", good])
        XCTAssertEqual(fine.status, 0, fine.stderr)

        let held = try NodeCluster.freePort()
        let holder = try XCTUnwrap(LoopbackTCP.listen(port: held))
        defer { close(holder) }
        let cases: [(String, String, (inout [String: Any], NodeCluster) -> Void)] = [
            ("peer", "did you mean \"peers\"", { config, _ in config["peer"] = ["GE=127.0.0.1:7444"] }),
            ("crl", "\"crl\": \"none\"", { config, _ in config["crl"] = nil }),
            ("api.group", "no group named", { config, cluster in
                config["api"] = ["socket": cluster.socketPath("AZ"), "group": "iias-no-such-group", "users": ["x=operator"]] }),
            ("api.socket", "does not exist", { config, cluster in
                config["api"] = ["socket": cluster.folder.appendingPathComponent("gone/AZ.sock").path, "users": ["x=operator"]] }),
            ("metrics.listen", "also the peer port", { config, _ in config["metrics"] = ["listen": config["listen"]!] }),
            ("listen", "127.0.0.1:\(held)", { config, _ in config["listen"] = "127.0.0.1:\(held)" }),
            ("metrics.listen", "127.0.0.1:\(held)", { config, _ in config["metrics"] = ["listen": "127.0.0.1:\(held)"] }),
        ]
        for (key, detail, change) in cases {
            let (file, _) = try configuration { config, cluster in change(&config, cluster) }
            let result = try iias(["node", "check-config", file])
            XCTAssertEqual(result.status, 2, "\(key): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("\(key):") && result.stderr.contains(detail), "\(key), \(detail) not in: \(result.stderr)")
        }

        let (garbage, _) = try configuration { _, _ in }
        try Data("{\n  \"center\": \"AZ\"\n  \"keys\": \"x\"\n}\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let result = try iias(["node", "check-config", garbage])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("line 3, column 3"), result.stderr)
        XCTAssertFalse(result.stderr.contains("NSCocoaErrorDomain"), result.stderr)
    }

    /// A key folder issued before witness keys existed passes with a warning naming the
    /// remedy (text and JSON); a complete one has no warning; half a pair is an error.
    func testAMissingWitnessKeyIsAWarningNotAnError() throws {
        let (complete, _) = try configuration { _, _ in }
        let fine = try iias(["node", "check-config", complete])
        XCTAssertEqual(fine.status, 0, fine.stderr)
        XCTAssertFalse(fine.stdout.contains("warning"), fine.stdout)
        func keyFolder(without names: [String]) -> (inout [String: Any], NodeCluster) throws -> Void {
            { config, cluster in
                let keys = cluster.folder.appendingPathComponent("keys-without-\(names.count)")
                try FileManager.default.copyItem(atPath: try XCTUnwrap(config["keys"] as? String), toPath: keys.path)
                for name in names { try FileManager.default.removeItem(at: keys.appendingPathComponent(name)) }
                config["keys"] = keys.path
            }
        }
        let (older, _) = try configuration(keyFolder(without: ["witness.key", "witness.crt"]))
        let warned = try iias(["node", "check-config", older])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stdout.contains("warning: no witness key") && warned.stdout.contains("--keys witness"), warned.stdout)
        XCTAssertTrue(warned.stdout.contains("configuration is valid"), warned.stdout)
        let json = try iias(["node", "check-config", older, "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        XCTAssertEqual((object["warnings"] as? [String])?.count, 1, json.stdout)
        XCTAssertEqual(object["witness key"] as? String, "none")
        let (half, _) = try configuration(keyFolder(without: ["witness.crt"]))
        let refused = try iias(["node", "check-config", half])
        XCTAssertEqual(refused.status, 2, refused.stdout)
        XCTAssertTrue(refused.stderr.contains("keys:") && refused.stderr.contains("witness.crt"), refused.stderr)
    }

    /// `run` on a port another process holds: exit 2, the key and address named, no `ready`.
    func testRunNeverPrintsReadyBeforeFailing() throws {
        let held = try NodeCluster.freePort()
        let holder = try XCTUnwrap(LoopbackTCP.listen(port: held))
        defer { close(holder) }
        for (key, change) in [("metrics.listen", { (config: inout [String: Any]) in config["metrics"] = ["listen": "127.0.0.1:\(held)"] }),
                              ("listen", { (config: inout [String: Any]) in config["listen"] = "127.0.0.1:\(held)" }),
                              ("api.group", { (config: inout [String: Any]) in
                                  var api = config["api"] as! [String: Any]
                                  api["group"] = "iias-no-such-group"
                                  config["api"] = api
                              })] {
            let (file, _) = try configuration { config, _ in change(&config) }
            let result = try iias(["node", "run", "--config", file])
            XCTAssertEqual(result.status, 2, "\(key): \(result.stderr)")
            XCTAssertFalse(result.stdout.contains("ready"), "\(key): ready was printed before failing: \(result.stdout)")
            XCTAssertTrue(result.stderr.contains("\(key):"), "\(key) not named: \(result.stderr)")
            if key != "api.group" {
                XCTAssertTrue(result.stderr.contains("127.0.0.1:\(held)") && result.stderr.contains("in use"), result.stderr)
                XCTAssertFalse(result.stderr.contains("bind(descriptor"), result.stderr)
            }
        }
    }

    /// The shipped unit lets the operators' group through to the socket, and systemd reads
    /// it without a warning.
    func testTheSystemdUnitLetsOperatorsReachTheSocketAndVerifies() throws {
        let unit = try String(contentsOfFile: RepositoryPaths.script("iias-node.service"), encoding: .utf8)
        func value(_ key: String) -> String? {
            unit.split(separator: "\n").first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        let mode = try XCTUnwrap(value("RuntimeDirectoryMode").flatMap { Int($0, radix: 8) })
        let group = value("Group")
        XCTAssertTrue(mode & 0o001 != 0 || (mode & 0o010 != 0 && group == "iias-operators"),
                      "RuntimeDirectoryMode \(String(mode, radix: 8)) with Group=\(group ?? "-") keeps iias-operators out of /run/iias")
        let example = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: RepositoryPaths.script("node.example.json")))) as! [String: Any]
        let api = try XCTUnwrap(example["api"] as? [String: Any])
        XCTAssertEqual(api["group"] as? String, "iias-operators")
        XCTAssertEqual(api["socket"] as? String, "/run/iias/" + "iias.sock", "the socket is in the unit's RuntimeDirectory")

        guard let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("systemd-analyze is not installed here: the unit was not verified by systemd")
        }
        let folder = try makeTemporaryDirectory("unit")
        let copy = folder.appendingPathComponent("iias-node.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/iias", with: RepositoryPaths.iiasExecutable).write(to: copy, atomically: true, encoding: .utf8)
        let result = try ProcessRunner.run(analyze, ["verify", copy.path], timeout: 120)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertEqual(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "systemd warns about the unit")
    }
}
