import Foundation
import XCTest
@testable import IIASModel

/// Bad documents are refused, each problem named by its field's path.
final class NotificationRejectionTests: XCTestCase {
    /// Every fixture in `invalid/` and `beyond-schema/` with the paths it must be refused at.
    static let table: [(fixture: String, paths: Set<String>)] = [
        ("invalid/missing-subject", ["/subject"]),
        ("invalid/bad-nationality", ["/entities/1/nationality"]),
        ("invalid/lower-case-nationality", ["/entities/0/nationality"]),
        ("invalid/h3-without-restrictions", ["/handling/restrictions"]),
        ("invalid/restrictions-without-h3", ["/handling/restrictions"]),
        ("invalid/update-without-references", ["/references"]),
        ("invalid/cancellation-with-empty-references", ["/references"]),
        ("invalid/reply-without-in-reply-to", ["/inReplyTo"]),
        ("invalid/request-without-deadline", ["/responseDeadline"]),
        ("invalid/duplicate-recipient", ["/recipients/2"]),
        ("invalid/empty-recipients", ["/recipients"]),
        ("invalid/sixty-five-recipients", ["/recipients"]),
        ("invalid/unknown-top-level-field", ["/colour"]),
        ("invalid/unknown-field-in-entity", ["/entities/0/nickname"]),
        ("invalid/unknown-field-in-handling", ["/handling/caveat"]),
        ("invalid/priority-is-a-number", ["/priority"]),
        ("invalid/recipients-is-a-string", ["/recipients"]),
        ("invalid/version-is-a-string", ["/version"]),
        ("invalid/unsupported-version", ["/version"]),
        ("invalid/summary-too-long", ["/summary"]),
        ("invalid/subject-too-long", ["/subject"]),
        ("invalid/empty-subject", ["/subject"]),
        ("invalid/subject-with-newline", ["/subject"]),
        ("invalid/invalid-uuid", ["/id"]),
        ("invalid/upper-case-uuid", ["/id"]),
        ("invalid/bad-sender", ["/sender"]),
        ("invalid/bad-tlp", ["/handling/tlp"]),
        ("invalid/duplicate-handling-code", ["/handling/codes/1"]),
        ("invalid/classification-too-long", ["/handling/classification"]),
        ("invalid/accuracy-out-of-range", ["/evaluation/informationAccuracy"]),
        ("invalid/accuracy-is-a-fraction", ["/evaluation/informationAccuracy"]),
        ("invalid/bad-reliability", ["/evaluation/sourceReliability"]),
        ("invalid/created-without-offset", ["/created"]),
        ("invalid/created-with-lower-case-t", ["/created"]),
        ("invalid/created-on-february-30", ["/created"]),
        ("invalid/date-of-birth-not-a-day", ["/entities/0/dateOfBirth"]),
        ("invalid/date-of-birth-with-time", ["/entities/0/dateOfBirth"]),
        ("invalid/entity-of-unknown-type", ["/entities/0/type"]),
        ("invalid/entity-without-type", ["/entities/0/type"]),
        ("invalid/entity-with-bad-id", ["/entities/0/id"]),
        ("invalid/person-without-name", ["/entities/0/name"]),
        ("invalid/vehicle-without-kind", ["/entities/0/kind"]),
        ("invalid/vin-with-letter-o", ["/entities/0/vin"]),
        ("invalid/document-without-number", ["/entities/0/number"]),
        ("invalid/empty-location", ["/entities/0"]),
        ("invalid/route-with-one-point", ["/entities/0/points"]),
        ("invalid/latitude-out-of-range", ["/entities/0/coordinates/latitude"]),
        ("invalid/attachment-upper-case-sha256", ["/attachments/0/sha256"]),
        ("invalid/attachment-name-with-slash", ["/attachments/0/name"]),
        ("invalid/attachment-name-dot-dot", ["/attachments/0/name"]),
        ("invalid/attachment-too-large", ["/attachments/0/bytes"]),
        ("invalid/attachment-bad-media-type", ["/attachments/0/mediaType"]),
        ("invalid/attachment-encryption-short-key", ["/attachments/0/encryption/fileKey"]),
        ("invalid/attachment-encryption-chunk-size-not-power-of-two", ["/attachments/0/encryption/chunkSize"]),
        ("invalid/attachment-encryption-unknown-member", ["/attachments/0/encryption/algorithm"]),
        ("invalid/evaluation-is-null", ["/evaluation"]),
        ("invalid/empty-requested-action", ["/requestedAction"]),
        ("invalid/reference-not-a-uuid", ["/references/0"]),
        ("invalid/three-problems", ["/subject", "/priority", "/entities/0/dateOfBirth"]),
        ("invalid/top-level-array", [""]),
        ("invalid/garbage", [""]),
        ("invalid/truncated", [""]),
        ("invalid/empty", [""]),
        ("beyond-schema/sender-among-recipients", ["/recipients/1"]),
        ("beyond-schema/duplicate-entity-id", ["/entities/1/id"]),
        ("beyond-schema/holder-names-no-entity", ["/entities/1/holder"]),
        ("beyond-schema/holder-names-an-organization", ["/entities/1/holder"]),
        ("beyond-schema/valid-until-before-created", ["/validUntil"]),
        ("beyond-schema/attachment-encryption-chunk-count-disagrees", ["/attachments/0/encryption/chunkCount"]),
        ("beyond-schema/attachment-encryption-ciphertext-size-disagrees", ["/attachments/0/encryption/ciphertextBytes"]),
        ("beyond-schema/deadline-equal-to-created", ["/responseDeadline"]),
        ("beyond-schema/references-itself", ["/references/0"]),
        ("beyond-schema/replies-to-itself", ["/inReplyTo"]),
        ("beyond-schema/duplicate-key", ["/subject"]),
    ]

    func testEveryBadFixtureIsRefusedAtTheRightPaths() throws {
        for (fixture, expected) in Self.table {
            let found = problems(parsing: try Fixtures.data(fixture + ".json"))
            XCTAssertEqual(Set(found.map(\.path)), expected, "\(fixture): \(found)")
            XCTAssertFalse(found.contains { $0.message.isEmpty }, fixture)
        }
    }

    func testEveryBadFixtureIsInTheTable() throws {
        let listed = Set(Self.table.map { $0.fixture + ".json" })
        let present = try Set(Fixtures.names(in: "invalid") + Fixtures.names(in: "beyond-schema"))
        XCTAssertEqual(present.subtracting(listed), [], "fixtures without expected paths")
        XCTAssertEqual(listed.subtracting(present), [], "table rows without fixtures")
    }

    /// What leaves the operator's screen (a refusal on the wire, the node's journal)
    /// names the field and the rule, never the content: the operator's own error shows the
    /// offending values, the redacted form shows none of them.
    func testTheRedactedDescriptionNamesFieldsAndRulesButNoValue() throws {
        var document = try XCTUnwrap(JSONSerialization.jsonObject(with: Fixtures.data("valid/document-with-holder.json")) as? [String: Any])
        document["category"] = "Operation Nightjar"
        var entities = try XCTUnwrap(document["entities"] as? [[String: Any]])
        entities[0]["holder"] = "Beridze-Giorgi"
        document["entities"] = entities
        let data = try JSONSerialization.data(withJSONObject: document)
        do {
            _ = try Notification.parse(data)
            XCTFail("two problems were accepted")
        } catch {
            for value in ["Operation Nightjar", "Beridze-Giorgi"] {
                XCTAssertTrue(error.description.contains(value), "the operator sees \(value): \(error.description)")
                XCTAssertFalse(error.redactedDescription.contains(value), "no \(value) in \(error.redactedDescription)")
            }
            for path in ["/category", "/entities/0/holder"] {
                XCTAssertTrue(error.redactedDescription.contains(path), "\(path) named: \(error.redactedDescription)")
            }
        }
    }

    func testOneDocumentWithThreeProblemsReportsAllThree() throws {
        let found = problems(parsing: try Fixtures.data("invalid/three-problems.json"))
        XCTAssertEqual(found.count, 3, "\(found)")
        XCTAssertEqual(Set(found.map(\.path)), ["/subject", "/priority", "/entities/0/dateOfBirth"])
    }

    func testTwoMebibyteDocumentIsRefusedBeforeParsing() {
        // Not JSON at all: the size check must come first, or this would be a syntax error.
        let huge = [UInt8](repeating: UInt8(ascii: "x"), count: 2 * 1024 * 1024)
        let found = problems(parsing: huge)
        XCTAssertEqual(found.map(\.path), [""])
        XCTAssertTrue(found[0].message.contains("limit"), found[0].message)
    }

    func testDocumentJustUnderTheLimitIsParsed() {
        var data = Sample.notification().encoded()
        data.append(contentsOf: [UInt8](repeating: 0x20, count: Notification.maximumEncodedSize - data.count))
        XCTAssertEqual(problems(parsing: data), [])
    }

    func testDeepNestingIsRefusedWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let found = problems(parsing: Array(deep.utf8))
        XCTAssertEqual(found.map(\.path), [""])
        XCTAssertTrue(found[0].message.contains("nesting"), found[0].message)
    }

    func testEmptyInputSaysSo() {
        XCTAssertEqual(problems(parsing: Data()).map(\.message), ["empty input: expected a JSON object"])
    }

    func testTruncatedInputSaysSo() {
        let found = problems(parsing: Array(#"{"version": 1, "subject": "He"#.utf8))
        XCTAssertEqual(found.map(\.path), [""])
        XCTAssertTrue(found[0].message.contains("truncated"), found[0].message)
    }

    func testInvalidUTF8IsRefused() {
        var bytes = Array(#"{"subject": "x"#.utf8)
        bytes += [0xC3, 0x28] + Array(#""}"#.utf8)
        XCTAssertEqual(problems(parsing: bytes).map(\.path), [""])
    }

    func testUnpairedSurrogateEscapeIsRefused() {
        XCTAssertEqual(problems(parsing: Array(#"{"subject": "\ud800"}"#.utf8)).map(\.path), [""])
    }

    func testByteOrderMarkIsRefused() {
        let bytes = [0xEF, 0xBB, 0xBF] + Array(Sample.notification().encoded())
        XCTAssertEqual(problems(parsing: bytes).map(\.path), [""])
    }

    func testTooManyEntitiesAreRefused() throws {
        var notification = Sample.notification()
        notification.entities = (0...500).map { .organization(Organization(id: "o\($0)", name: "Org \($0)")) }
        XCTAssertEqual(notification.validate().map(\.path), ["/entities"])
    }

    func testInMemoryValueWithSeveralProblemsReportsEach() {
        var notification = Sample.notification()
        notification.recipients.append(notification.sender)
        notification.subject = ""
        notification.kind = .reply
        notification.entities = [.person(Person(id: "P 1", name: "X", nationality: nil))]
        notification.attachments = [Attachment(name: "a", mediaType: "text/plain", sha256: "00", bytes: -1)]
        XCTAssertEqual(Set(notification.validate().map(\.path)), [
            "/recipients/2", "/subject", "/inReplyTo", "/entities/0/id", "/attachments/0/sha256", "/attachments/0/bytes",
        ])
    }

    func testNonFiniteCoordinateIsAProblemNotACrash() {
        var notification = Sample.notification()
        notification.entities = [.location(Location(id: "l", coordinates: Coordinates(latitude: .nan, longitude: 0)))]
        XCTAssertEqual(notification.validate().map(\.path), ["/entities/0/coordinates/latitude"])
    }

    func testDescriptionListsEveryProblemWithItsPath() throws {
        let data = try Fixtures.data("invalid/three-problems.json")
        do {
            _ = try Notification.parse(data)
            XCTFail("accepted")
        } catch {
            let text = error.description
            for path in ["/subject:", "/priority:", "/entities/0/dateOfBirth:"] {
                XCTAssertTrue(text.contains(path), text)
            }
        }
    }

    func testUnknownFieldPathEscapesSlashAndTilde() {
        var json = String(decoding: Sample.notification().encoded(), as: UTF8.self)
        json.removeLast()
        json += #","a/b~c":1}"#
        XCTAssertEqual(problems(parsing: Array(json.utf8)).map(\.path), ["/a~1b~0c"])
    }
}
