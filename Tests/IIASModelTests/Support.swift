import Foundation
import XCTest
@testable import IIASModel

/// Foundation has a `Notification` too; in tests the name means ours.
typealias Notification = IIASModel.Notification

enum Fixtures {
    /// The `Fixtures` folder copied into the test bundle.
    static var root: URL {
        get throws {
            try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures missing from the test bundle")
        }
    }

    /// `folder/name.json` files, as paths relative to `root`, sorted.
    static func names(in folder: String) throws -> [String] {
        let directory = try root.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }
            .map { "\(folder)/\($0)" }
            .sorted()
    }

    static func data(_ relativePath: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent(relativePath))
    }
}

enum Sample {
    static let created = Date(timeIntervalSince1970: 1_740_821_400)  // 2025-03-01T09:30:00Z

    static let id = UUID(uuidString: "7c9e6679-7425-40de-944b-e07fc1f90ae7")!

    static func center(_ text: String) -> CenterID { CenterID(text)! }
    static func country(_ text: String) -> CountryCode { CountryCode(text)! }

    /// A small valid notification to mutate in tests.
    static func notification() -> Notification {
        Notification(
            id: id, sender: center("UA-SBU"), recipients: [center("GE"), center("AZ")], created: created,
            category: .drugTrafficking, priority: .urgent, handling: Handling(tlp: .amber, codes: [.h0]),
            subject: "Heroin consignment expected at Poti port", summary: "A container is expected on 4 March.")
    }

    /// A large notification using every field and every entity type.
    static func everything() -> Notification {
        let person = Person(
            id: "p1", name: "Giorgi Beridze", aliases: ["Гиорги Беридзе"], dateOfBirth: CalendarDate(year: 1984, month: 11, day: 2),
            nationality: country("GE"), gender: .male,
            identifiers: [PersonIdentifier(scheme: "national-id", value: "01024055123")])
        let entities: [Entity] = [
            .person(person),
            .organization(Organization(id: "org-1", name: "Kartli Fruit Trading LLC", aliases: ["KFT"], country: country("GE"))),
            .vehicle(Vehicle(id: "v1", kind: .truck, registration: "AA-123-BB", vin: "WDB9634031L123456", make: "Mercedes-Benz",
                             model: "Actros", color: "white", flagCountry: country("GE"))),
            .vehicle(Vehicle(id: "ship", kind: .vessel, registration: "IMO 9321483", flagCountry: country("PA"))),
            .document(IdentityDocument(id: "doc-1", documentType: .passport, number: "13AB45678", issuingCountry: country("GE"),
                                       expires: CalendarDate(year: 2031, month: 6, day: 30), holder: "p1")),
            .location(Location(id: "poti", name: "Port of Poti", country: country("GE"),
                               coordinates: Coordinates(latitude: 42.1537, longitude: 41.6714))),
            .route(Route(id: "r1", points: [Place(name: "Bandar Abbas", country: country("IR")), Place(name: "Poti"),
                                            Place(coordinates: Coordinates(latitude: -90, longitude: 180))], mode: .mixed)),
        ]
        return Notification(
            id: id, sender: center("UA-SBU"), recipients: (0..<64).map { center("GE-U\($0)") },
            created: created.addingTimeInterval(0.123_456), kind: .request, category: .organizedCrime, priority: .flash,
            handling: Handling(tlp: .red, codes: [.h0, .h1, .h2, .h3], restrictions: "Joint team only.\nNo court use.",
                               classification: "ЦІЛКОМ ТАЄМНО"),
            evaluation: Evaluation(sourceReliability: .b, informationAccuracy: .knownToSource),
            subject: "Контрабанда героїну через Поті — გემი «Marlin» 🚢",
            summary: String(repeating: "Quoted \"text\", back\\slash, a/b, tab\t, bell\u{07}.\n", count: 300),
            entities: entities, requestedAction: "Inspect the container on arrival.",
            references: [UUID(uuidString: "3f2c1b9a-8d7e-4c6b-9a5f-1e2d3c4b5a69")!], inReplyTo: UUID(),
            validUntil: created.addingTimeInterval(30 * 86_400), responseDeadline: created.addingTimeInterval(86_400.5),
            attachments: [Attachment(name: "manifest.pdf", mediaType: "application/pdf",
                                     sha256: String(repeating: "ab", count: 32), bytes: Attachment.maximumSize)])
    }
}

extension NotificationInvalid {
    var pathSet: Set<String> { Set(paths) }
}

/// The problems `parse` reports for `data`, or `[]` if it accepts it.
func problems(parsing data: some Collection<UInt8>) -> [ValidationProblem] {
    do {
        _ = try Notification.parse(data)
        return []
    } catch {
        return error.problems
    }
}
