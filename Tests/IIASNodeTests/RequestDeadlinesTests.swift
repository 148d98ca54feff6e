import Foundation
import IIASAPI
import IIASModel
import IIASTestSupport
@testable import IIASNode
import XCTest

/// The default deadlines by priority (EU Directive 2023/977's limits), their keys and
/// bounds, and when a deadline counts as due soon or overdue.
final class RequestDeadlinesTests: XCTestCase {
    private func load(_ requests: [String: Any]?) async throws -> NodeConfiguration {
        let folder = try makeTemporaryDirectory("config")
        let file = folder.appendingPathComponent("node.json")
        var object: [String: Any] = [
            "center": "AZ", "keys": TestPKI.shared.centerDirectory("AZ"), "ca": TestPKI.shared.caFile, "crl": TestPKI.shared.crlFile,
            "certificates": TestPKI.shared.centersDirectory, "listen": "127.0.0.1:7443", "peers": ["GE=127.0.0.1:7444"],
            "data": "data", "api": ["socket": "/tmp/iias-test.sock", "users": ["alice=operator"]],
        ]
        object["requests"] = requests
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        return try await NodeConfiguration.load(file: file.path, environment: [:])
    }

    func testDefaultsAreTheDirectivesLimitsAndTheKeysOverrideThem() async throws {
        let defaults = try await load(nil).requests
        XCTAssertEqual(defaults.span(for: .flash), 8 * 3600)
        XCTAssertEqual(defaults.span(for: .urgent), 3 * 86_400)
        XCTAssertEqual(defaults.span(for: .routine), 7 * 86_400)
        XCTAssertEqual(defaults.checkSeconds, 60)
        let set = try await load(["deadlineHours": ["flash": 0.001, "urgent": 24, "routine": 48], "checkSeconds": 0.5]).requests
        XCTAssertEqual(set.span(for: .flash), 3.6, accuracy: 0.0001)
        XCTAssertEqual([set.span(for: .urgent), set.span(for: .routine), set.checkSeconds], [86_400, 172_800, 0.5])
    }

    func testOutOfBoundsAndMisspeltKeysAreNamed() async throws {
        let cases: [([String: Any], String)] = [
            (["deadlineHours": ["flash": 0]], "requests.deadlineHours.flash"),
            (["deadlineHours": ["urgent": 10_000]], "requests.deadlineHours.urgent"),
            (["deadlineHours": ["routine": "a week"]], "requests.deadlineHours.routine"),
            (["checkSeconds": 0], "requests.checkSeconds"),
            (["deadlineHour": ["flash": 8]], "requests.deadlineHour"),
        ]
        for (requests, key) in cases {
            do {
                _ = try await load(requests)
                XCTFail("\(requests) was accepted")
            } catch let error as NodeConfiguration.Problem {
                XCTAssertEqual(error.key, key, "\(requests): \(error)")
            }
        }
    }

    func testStageIsDueSoonWithinTenPercentOrAnHourAndOverdueAfter() {
        let created = Date(timeIntervalSince1970: 1_000_000)
        let week = created.addingTimeInterval(7 * 86_400), short = created.addingTimeInterval(100)
        XCTAssertEqual(RequestStatus.stage(created: created, deadline: week, now: week.addingTimeInterval(-3601)), .open)
        XCTAssertEqual(RequestStatus.stage(created: created, deadline: week, now: week.addingTimeInterval(-3599)), .dueSoon, "an hour before a week's deadline")
        XCTAssertEqual(RequestStatus.stage(created: created, deadline: short, now: short.addingTimeInterval(-11)), .open)
        XCTAssertEqual(RequestStatus.stage(created: created, deadline: short, now: short.addingTimeInterval(-9)), .dueSoon, "10% of a short span")
        XCTAssertEqual(RequestStatus.stage(created: created, deadline: short, now: short), .overdue)
        XCTAssertLessThan(RequestStatus.Stage.overdue, .dueSoon)
    }
}
