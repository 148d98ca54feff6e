import Foundation
import XCTest
@testable import IIASModel

/// Valid documents are accepted, and encoding is deterministic and loses nothing.
final class NotificationRoundTripTests: XCTestCase {
    func testLargeDocumentWithEveryEntityTypeIsValid() {
        let notification = Sample.everything()
        XCTAssertEqual(notification.validate(), [])
        XCTAssertEqual(Set(notification.entities.map(\.type)), Set(Entity.EntityType.allCases))
    }

    func testEncodeThenParseGivesTheSameValue() throws {
        let notification = Sample.everything()
        let parsed = try Notification.parse(notification.encoded())
        XCTAssertEqual(parsed, notification)
        XCTAssertEqual(parsed.encoded(), notification.encoded())
    }

    func testEveryValidFixtureParsesAndRoundTrips() throws {
        let names = try Fixtures.names(in: "valid")
        XCTAssertGreaterThanOrEqual(names.count, 15)
        for name in names {
            do {
                let notification = try Notification.parse(try Fixtures.data(name))
                XCTAssertEqual(notification.validate(), [], name)
                XCTAssertEqual(try Notification.parse(notification.encoded()), notification, name)
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
    }

    func testEncodingIsCompactSortedAndDoesNotEscapeSlashes() throws {
        var notification = Sample.notification()
        notification.attachments = [Attachment(name: "a.pdf", mediaType: "application/pdf", sha256: String(repeating: "0", count: 64), bytes: 1)]
        let text = String(decoding: notification.encoded(), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(#"{"attachments":[{"bytes":1,"mediaType":"application/pdf","#), text)
        XCTAssertTrue(text.contains(#""created":"2025-03-01T09:30:00Z""#), text)
        XCTAssertTrue(text.contains(#""id":"7c9e6679-7425-40de-944b-e07fc1f90ae7""#), text)
        XCTAssertFalse(text.contains(" :") || text.contains("\n"), text)
        XCTAssertFalse(text.contains("references"), "empty arrays are left out")
    }

    func testDatesAreWrittenInUTCWithMillisecondsAtMost() throws {
        let data = try Fixtures.data("valid/timestamps-with-offset-and-nanoseconds.json")
        let notification = try Notification.parse(data)
        let text = String(decoding: notification.encoded(), as: UTF8.self)
        XCTAssertTrue(text.contains(#""created":"2025-03-01T09:30:00.123Z""#), text)
        XCTAssertTrue(text.contains(#""validUntil":"2025-03-01T10:00:00Z""#), text)
    }

    func testDatesSetInMemoryAreTruncatedToMilliseconds() throws {
        var notification = Sample.notification()
        notification.created = Date(timeIntervalSince1970: 1_740_821_400.123_999)
        notification.validUntil = Date(timeIntervalSince1970: 1_740_821_500.000_7)
        XCTAssertEqual(try Notification.parse(notification.encoded()), notification)
        XCTAssertEqual(Timestamp.format(notification.created), "2025-03-01T09:30:00.123Z")
    }

    func testCodableUsesTheSameJSONAndTheSameRules() throws {
        let notification = Sample.everything()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let viaCodable = try encoder.encode(notification)
        XCTAssertEqual(try Notification.parse(viaCodable), notification)
        XCTAssertEqual(try JSONDecoder().decode(Notification.self, from: notification.encoded()), notification)

        let bad = try Fixtures.data("invalid/three-problems.json")
        XCTAssertThrowsError(try JSONDecoder().decode(Notification.self, from: bad)) { error in
            XCTAssertTrue("\(error)".contains("/entities/0/dateOfBirth"), "\(error)")
        }
    }

    func testNotificationCanBeEmbeddedInOtherCodableTypes() throws {
        struct Wrapper: Codable, Equatable { var note: Notification; var entity: Entity; var tag: String }
        let notification = Sample.everything()
        let wrapper = Wrapper(note: notification, entity: notification.entities[4], tag: "x")
        let data = try JSONEncoder().encode(wrapper)
        XCTAssertEqual(try JSONDecoder().decode(Wrapper.self, from: data), wrapper)
    }

    func testDefaultsMakeAValidNotification() {
        let notification = Notification(
            sender: Sample.center("AZ"), recipients: [Sample.center("GE")], category: .terrorism,
            handling: Handling(tlp: .green), subject: "s", summary: "s")
        XCTAssertEqual(notification.version, Notification.currentVersion)
        XCTAssertEqual(notification.kind, .notification)
        XCTAssertEqual(notification.validate(), [])
    }

    func testPublishedSchemaIsInTheBundle() throws {
        let url = try XCTUnwrap(Notification.jsonSchemaURL)
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        XCTAssertEqual(schema?["$schema"] as? String, "https://json-schema.org/draft/2020-12/schema")
    }
}
