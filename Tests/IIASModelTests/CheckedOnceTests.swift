import XCTest
@testable import IIASModel

/// A notification read by the strict parser is sealed without a second check, and only
/// as long as nothing in it changed: any change brings the check back.
final class CheckedOnceTests: XCTestCase {
    private func parsed() throws -> Notification { try Notification.parse(Sample.notification().encoded()) }

    func testAParsedNotificationEncodesAsAnUncheckedEqualValue() throws {
        for name in try Fixtures.names(in: "valid") {
            let fresh = try Notification.parse(Fixtures.data(name))
            var unchecked = fresh
            unchecked.subject = fresh.subject   // the same value, its mark cleared
            XCTAssertEqual(fresh, unchecked, "the mark is not part of the value (\(name))")
            XCTAssertEqual(try fresh.validatedEncoding().get(), try unchecked.validatedEncoding().get(), name)
        }
    }

    func testAnyChangeAfterParsingIsCheckedAgain() throws {
        var empty = try parsed()
        empty.subject = ""
        XCTAssertEqual(Self.paths(empty), ["/subject"])

        var selfAddressed = try parsed()
        selfAddressed.sender = selfAddressed.recipients[0]
        XCTAssertEqual(Self.paths(selfAddressed), ["/recipients/0"])

        var late = try parsed()
        late.validUntil = late.created.addingTimeInterval(-60)
        XCTAssertEqual(Self.paths(late), ["/validUntil"])

        var reply = try parsed()
        reply.kind = .reply
        XCTAssertEqual(Self.paths(reply), ["/inReplyTo"])

        var crowded = try parsed()
        crowded.recipients += crowded.recipients
        XCTAssertFalse(Self.paths(crowded).isEmpty, "duplicate recipients after parsing")
    }

    func testABuiltValueIsAlwaysChecked() {
        var notification = Sample.notification()
        notification.summary = ""
        XCTAssertEqual(Self.paths(notification), ["/summary"])
    }

    private static func paths(_ notification: Notification) -> [String] {
        switch notification.validatedEncoding() {
        case .success: []
        case .failure(let invalid): invalid.problems.map(\.path)
        }
    }

    /// Every stored property clears the mark when set, and the list below is every
    /// stored property there is: a property added without clearing it fails here.
    func testEveryStoredPropertyClearsTheMark() throws {
        func resets<Value>(_ path: WritableKeyPath<Notification, Value>) -> (inout Notification) -> Void {
            { notification in notification[keyPath: path] = notification[keyPath: path] }
        }
        let setters: [String: (inout Notification) -> Void] = [
            "version": resets(\.version), "id": resets(\.id), "sender": resets(\.sender), "recipients": resets(\.recipients),
            "created": resets(\.created), "kind": resets(\.kind), "category": resets(\.category), "priority": resets(\.priority),
            "handling": resets(\.handling), "evaluation": resets(\.evaluation), "subject": resets(\.subject),
            "summary": resets(\.summary), "entities": resets(\.entities), "requestedAction": resets(\.requestedAction),
            "references": resets(\.references), "inReplyTo": resets(\.inReplyTo), "validUntil": resets(\.validUntil),
            "responseDeadline": resets(\.responseDeadline), "attachments": resets(\.attachments),
        ]
        let stored = Set(Mirror(reflecting: Sample.notification()).children.compactMap(\.label)).subtracting(["checkedAsIs"])
        XCTAssertEqual(stored, Set(setters.keys), "a new stored property needs a didSet that clears checkedAsIs, and a line here")
        for (name, set) in setters {
            var notification = try parsed()
            XCTAssertTrue(notification.checkedAsIs.isSet)
            set(&notification)
            XCTAssertFalse(notification.checkedAsIs.isSet, "setting \(name) keeps the mark")
        }
    }
}
