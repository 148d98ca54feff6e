import Foundation
@testable import IIASAPI
@testable import IIASNode
import Logging
import XCTest

/// The local API's door as a value: who is let in, who is refused and how, and which
/// open connections a new allow-list revokes — without sockets or a user database.
final class APIDoorTests: XCTestCase {
    private let names: [UInt32: String] = [1000: "alice", 1001: "bob", 1002: "mallory"]
    private func name(_ uid: UInt32) -> String? { names[uid] }
    private let door = APIDoor(users: ["alice": .operator, "bob": .auditor])

    func testListedUsersAreAdmittedWithTheirRole() {
        XCTAssertEqual(door.decide(uid: 1000, name: name), .admitted(LocalUser(user: "alice", uid: 1000, role: .operator)))
        XCTAssertEqual(door.decide(uid: 1001, name: name).actor?.role, .auditor)
        XCTAssertNil(door.decide(uid: 1000, name: name).refusal)
    }

    func testOthersAreRefusedWithA403ThatSaysHowToBeLetIn() throws {
        XCTAssertEqual(door.decide(uid: 1002, name: name), .notAllowed(user: "mallory", uid: 1002))
        XCTAssertEqual(door.decide(uid: 4242, name: name), .notAllowed(user: "uid 4242", uid: 4242), "a uid without an account is named by number")
        XCTAssertEqual(door.decide(uid: nil, name: name), .unidentified)
        guard case .json(let status, let bytes)? = door.decide(uid: 1002, name: name).refusal else { return XCTFail("no refusal") }
        XCTAssertEqual(status, .forbidden)
        let body = try APIJSON.decoder().decode(APIErrorBody.self, from: Data(bytes))
        XCTAssertEqual(body.error, "user mallory is not allowed on this node's socket")
        XCTAssertTrue(body.hint?.contains("mallory=operator") == true && body.hint?.contains("SIGHUP") == true, body.hint ?? "")
        guard case .json(let unknown, _)? = door.decide(uid: nil, name: name).refusal else { return XCTFail("no refusal") }
        XCTAssertEqual(unknown, .forbidden)
    }

    func testANewListRevokesRemovedUsersAndChangedRolesOnly() {
        let alice = LocalUser(user: "alice", uid: 1000, role: .operator), bob = LocalUser(user: "bob", uid: 1001, role: .auditor)
        let without = APIDoor(users: ["bob": .auditor])
        XCTAssertTrue(without.revokes(alice))
        XCTAssertFalse(without.revokes(bob))
        let demoted = APIDoor(users: ["alice": .auditor, "bob": .auditor])
        XCTAssertTrue(demoted.revokes(alice), "a role changed under an open connection closes it")
        XCTAssertFalse(door.revokes(alice))
        XCTAssertEqual(without.decide(uid: 1000, name: name), .notAllowed(user: "alice", uid: 1000))
    }

    func testRefusalsAreLoggedAtMostOnceInAWhilePerUid() {
        let access = APIAccess(users: [:], logger: Logger(label: "test"))
        XCTAssertTrue(access.shouldLogRefusal(of: 1002))
        XCTAssertFalse(access.shouldLogRefusal(of: 1002), "a second knock within 10 s is not logged")
        XCTAssertTrue(access.shouldLogRefusal(of: 1003), "another uid is")
    }
}
