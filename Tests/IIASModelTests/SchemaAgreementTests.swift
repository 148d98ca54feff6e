import Foundation
import XCTest
@testable import IIASModel

/// The published JSON Schema and the Swift validator accept the same documents, judged
/// by an independent implementation (Python `jsonschema`, Draft 2020-12, formats checked).
final class SchemaAgreementTests: XCTestCase {
    /// Prints `{"folder/name.json": true|false}` for every fixture; exits 3 when the
    /// validator is missing, so the test can say what to do.
    static let script = #"""
        import json, os, sys
        try:
            from jsonschema import Draft202012Validator
        except ImportError:
            sys.stderr.write("python3 cannot import jsonschema\n"); sys.exit(3)
        if "date-time" not in Draft202012Validator.FORMAT_CHECKER.checkers:
            sys.stderr.write("jsonschema cannot check date-time (rfc3339-validator missing)\n"); sys.exit(3)
        schema_path, root = sys.argv[1], sys.argv[2]
        schema = json.load(open(schema_path, encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        verdicts = {}
        for folder in sorted(os.listdir(root)):
            if not os.path.isdir(os.path.join(root, folder)):
                continue
            for name in sorted(os.listdir(os.path.join(root, folder))):
                if not name.endswith(".json"):
                    continue
                try:
                    document = json.loads(open(os.path.join(root, folder, name), "rb").read().decode("utf-8"))
                except ValueError:
                    verdicts[folder + "/" + name] = False  # not JSON: no schema accepts it
                    continue
                verdicts[folder + "/" + name] = validator.is_valid(document)
        print(json.dumps(verdicts))
        """#

    static let howToFix = "run Scripts/test.sh, which installs python3 with jsonschema and rfc3339-validator"

    /// The schema's verdict on every fixture, from Python.
    private func schemaVerdicts() throws -> [String: Bool] {
        let schema = try XCTUnwrap(Notification.jsonSchemaURL, "notification.schema.json missing from the bundle")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, schema.path, try Fixtures.root.path]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do {
            try process.run()
        } catch {
            XCTFail("cannot run python3 (\(error)): \(Self.howToFix)")
            throw error
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            XCTFail("the schema check could not run (\(err.trimmingCharacters(in: .whitespacesAndNewlines))): \(Self.howToFix)")
            throw CocoaError(.executableLoad)
        }
        return try JSONDecoder().decode([String: Bool].self, from: out)
    }

    private func swiftAccepts(_ fixture: String) throws -> Bool {
        problems(parsing: try Fixtures.data(fixture)).isEmpty
    }

    func testSchemaAndSwiftGiveTheSameVerdictOnEveryFixture() throws {
        let verdicts = try schemaVerdicts()
        let valid = try Fixtures.names(in: "valid"), invalid = try Fixtures.names(in: "invalid")
        XCTAssertGreaterThanOrEqual(valid.count, 15)
        XCTAssertGreaterThanOrEqual(invalid.count, 15)
        for fixture in valid + invalid {
            let schema = try XCTUnwrap(verdicts[fixture], "python did not judge \(fixture)")
            let swift = try swiftAccepts(fixture)
            XCTAssertEqual(schema, swift, "\(fixture): schema says \(schema ? "valid" : "invalid"), Swift says \(swift ? "valid" : "invalid")")
            XCTAssertEqual(swift, fixture.hasPrefix("valid/"), "\(fixture) is in the wrong folder")
        }
    }

    /// What a schema cannot say (see its description): the schema accepts these,
    /// Swift refuses them. If the schema learns to refuse one, move it to `invalid/`.
    func testSchemaAcceptsWhatOnlySwiftCanRefuse() throws {
        let verdicts = try schemaVerdicts()
        for fixture in try Fixtures.names(in: "beyond-schema") {
            XCTAssertEqual(verdicts[fixture], true, "\(fixture): the schema now refuses it; move it to invalid/")
            XCTAssertFalse(try swiftAccepts(fixture), fixture)
        }
    }

    /// Documents the Swift side produces are valid for the schema too.
    func testEncodedNotificationsAreValidForTheSchema() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("iias-schema-\(UUID().uuidString)")
        let valid = directory.appendingPathComponent("valid")
        try FileManager.default.createDirectory(at: valid, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Sample.everything().encoded().write(to: valid.appendingPathComponent("everything.json"))
        try Sample.notification().encoded().write(to: valid.appendingPathComponent("small.json"))

        let schema = try XCTUnwrap(Notification.jsonSchemaURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, schema.path, directory.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, Self.howToFix)
        let verdicts = try JSONDecoder().decode([String: Bool].self, from: out)
        XCTAssertEqual(verdicts, ["valid/everything.json": true, "valid/small.json": true])
    }
}
