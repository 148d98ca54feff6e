import Foundation
@testable import IIASAPI
@testable import IIASNode
import IIASModel
import XCTest

/// The event stream's own writer and reader of delivery and heartbeat lines against
/// `Codable`, the other side of every stream: the same bytes written, the same values read,
/// and nothing read that `Codable` would refuse (garbage, truncation, every byte changed).
final class EventLineJSONTests: XCTestCase {
    private let encoder = APIJSON.encoder()
    private let decoder = APIJSON.decoder()
    private let id = UUID(uuidString: "0f8fad5b-d9cb-469f-a165-70867728950e")!
    private let when = Date(timeIntervalSince1970: 1_780_000_000.123)

    /// Every state, each optional member present and absent, text that needs escapes.
    private var deliveries: [RecipientDelivery] {
        var result: [RecipientDelivery] = []
        let texts: [String?] = [nil, "", "timed out", "quote \" backslash \\ slash / tab \t nl \n ctl \u{01}\u{1F} del \u{7F}",
                                "Ўкраїна — 安全 🛡 \u{2028}\u{2029}", String(repeating: "x", count: 3000)]
        for (n, state) in DeliveryState.allCases.enumerated() {
            for (m, text) in texts.enumerated() {
                let pick = n + m
                result.append(RecipientDelivery(
                    center: pick % 2 == 0 ? CenterID("GE")! : CenterID("UA-SBU")!, state: state, attempts: pick * 7,
                    nextAttempt: pick % 3 == 0 ? nil : when.addingTimeInterval(Double(pick)),
                    recipientLogIndex: pick % 2 == 0 ? nil : UInt64(pick) * 1_000_003,
                    receiptLogIndex: pick % 4 == 1 ? nil : UInt64(Int64.max) - UInt64(pick),
                    reason: text, detail: m % 2 == 0 ? text : nil, updated: pick % 5 == 0 ? nil : when))
            }
        }
        return result
    }

    private func lines() -> [EventLine] {
        deliveries.map { EventLine(.delivery(id: id, recipient: $0)) } + [EventLine(heartbeat: ())]
    }

    func testWritesTheBytesCodableWrites() throws {
        for line in lines() {
            let fast = try XCTUnwrap(line.fastJSON(), "\(line)")
            XCTAssertEqual(String(decoding: fast, as: UTF8.self), String(decoding: try encoder.encode(line), as: UTF8.self))
        }
    }

    func testReadsWhatCodableReads() throws {
        for line in lines() {
            let bytes = Array(try encoder.encode(line))
            let fast = try XCTUnwrap(EventLine(fastParsing: bytes), String(decoding: bytes, as: UTF8.self))
            XCTAssertEqual(fast, try decoder.decode(EventLine.self, from: Data(bytes)))
            XCTAssertEqual(fast, line.roundedToMilliseconds(line))
        }
    }

    func testLeavesToCodableWhatItCannotLayOutExactly() {
        var huge = RecipientDelivery(center: CenterID("GE")!, state: .delivered)
        huge.receiptLogIndex = UInt64(Int64.max) + 1   // beyond the parser's integers
        XCTAssertNil(EventLine(.delivery(id: id, recipient: huge)).fastJSON())
        XCTAssertNil(EventLine(.peer(PeerStatus(center: CenterID("UA")!, address: "127.0.0.1:1", state: .connected, queued: 0))).fastJSON())
        // A line it writes fully or not at all: the router falls back for the rest.
        XCTAssertEqual(APIRouter.eventLine(EventLine(.delivery(id: id, recipient: huge)), encoder: encoder).map { Array($0.suffix(1)) }, [0x0A])
    }

    func testLeavesToCodableEveryLineItDoesNotKnowExactly() throws {
        let odd: [String] = [
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"sent"},"extra":1}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"sent","colour":"red"}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1.0,"center":"GE","state":"sent"}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"sent","attempts":2}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"ge","state":"sent"}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"lost"}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"sent","updated":"yesterday"}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"sent","receiptLogIndex":-1}}"#,
            #"{"type":"delivery","id":"not-a-uuid","recipient":{"attempts":1,"center":"GE","state":"sent"}}"#,
            #"{"type":"delivery","id":"\#(id)","recipient":{"center":"GE","state":"sent"}}"#,
            #"{"type":"peer","peer":{"center":"UA","address":"127.0.0.1:1","state":"connected","queued":0}}"#,
            #"{"type":"heartbeat","id":null}"#, "[]", "", "null", "{", #"{"type":7}"#,
        ]
        for text in odd { XCTAssertNil(EventLine(fastParsing: Array(text.utf8)), text) }
        // Members set to null are absent to Codable, and to the fast reader as well.
        let nulls = #"{"type":"delivery","id":"\#(id)","recipient":{"attempts":1,"center":"GE","state":"sent","reason":null,"updated":null}}"#
        XCTAssertEqual(EventLine(fastParsing: Array(nulls.utf8)), try decoder.decode(EventLine.self, from: Data(nulls.utf8)))
    }

    /// Truncated at every length and each byte replaced by a few others: whatever the fast
    /// reader accepts, `Codable` accepts as the same line.
    func testNeverAcceptsWhatCodableRefusesOrReadsDifferently() throws {
        let samples = [deliveries[3], deliveries[10]].map { EventLine(.delivery(id: id, recipient: $0)) }
        var accepted = 0, checked = 0
        for line in samples {
            let bytes = Array(try encoder.encode(line))
            var variants: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
            for position in bytes.indices {
                for replacement: UInt8 in [0x00, 0x22, 0x2C, 0x31, 0x5C, 0x7B, 0x7D, 0xFF, bytes[position] ^ 0x20] {
                    var changed = bytes
                    changed[position] = replacement
                    variants.append(changed)
                }
            }
            for variant in variants {
                checked += 1
                guard let fast = EventLine(fastParsing: variant) else { continue }
                accepted += 1
                let slow = try? decoder.decode(EventLine.self, from: Data(variant))
                XCTAssertEqual(fast, slow, String(decoding: variant, as: UTF8.self))
            }
        }
        XCTAssertGreaterThan(accepted, 0, "some changes (a digit, a letter's case) still make a valid line")
        XCTAssertLessThan(accepted, checked)
    }
}

/// The answer to a submission, written and read on its own: the bytes `Codable` writes,
/// the values it reads, and nothing accepted that it refuses or reads otherwise.
final class SubmissionJSONTests: XCTestCase {
    private let encoder = APIJSON.encoder()
    private let decoder = APIJSON.decoder()
    private let samples = [
        Submission(id: UUID(uuidString: "0f8fad5b-d9cb-469f-a165-70867728950e")!, logIndex: 0, recipients: [CenterID("GE")!]),
        Submission(id: UUID(), logIndex: UInt64(Int64.max), recipients: ["GE", "MD", "UA-SBU"].map { CenterID($0)! }),
        Submission(id: UUID(), logIndex: 41, recipients: []),
    ]

    func testWritesAndReadsWhatCodableDoes() throws {
        for submission in samples {
            let fast = try XCTUnwrap(submission.fastJSON())
            XCTAssertEqual(String(decoding: fast, as: UTF8.self), String(decoding: try encoder.encode(submission), as: UTF8.self))
            XCTAssertEqual(Submission(fastParsing: fast), submission)
            XCTAssertEqual(Submission(fastParsing: fast + [0x0A]), submission, "as the router sends it, with a newline")
        }
        XCTAssertNil(Submission(id: UUID(), logIndex: UInt64(Int64.max) + 1, recipients: []).fastJSON(), "left to Codable")
    }

    func testNeverAcceptsWhatCodableRefusesOrReadsDifferently() throws {
        let bytes = Array(try encoder.encode(samples[1]))
        var variants: [[UInt8]] = (0..<bytes.count).map { Array(bytes[..<$0]) }
        for position in bytes.indices {
            for replacement: UInt8 in [0x00, 0x22, 0x2C, 0x31, 0x2D, 0x5C, 0x7B, 0x7D, 0xFF, bytes[position] ^ 0x20] {
                var changed = bytes
                changed[position] = replacement
                variants.append(changed)
            }
        }
        variants += [#"{"id":"0F8FAD5B-D9CB-469F-A165-70867728950E","logIndex":1,"recipients":["ge"]}"#,
                     #"{"id":"0F8FAD5B-D9CB-469F-A165-70867728950E","logIndex":-1,"recipients":[]}"#,
                     #"{"id":"0F8FAD5B-D9CB-469F-A165-70867728950E","logIndex":1.5,"recipients":[]}"#,
                     #"{"id":"0F8FAD5B-D9CB-469F-A165-70867728950E","logIndex":1,"recipients":[],"id":"x"}"#,
                     #"{"id":"0F8FAD5B-D9CB-469F-A165-70867728950E","logIndex":1,"recipients":[7]}"#, "", "[]", "null"].map { Array($0.utf8) }
        var accepted = 0
        for variant in variants {
            guard let fast = Submission(fastParsing: variant) else { continue }
            accepted += 1
            XCTAssertEqual(fast, try? decoder.decode(Submission.self, from: Data(variant)), String(decoding: variant, as: UTF8.self))
        }
        XCTAssertGreaterThan(accepted, 0)
        XCTAssertLessThan(accepted, variants.count)
    }
}

private extension EventLine {
    /// What a line reads back as: its dates at the milliseconds the stream writes.
    func roundedToMilliseconds(_ line: EventLine) -> EventLine {
        guard var recipient = line.recipient, let id = line.id else { return line }
        func round(_ date: Date?) -> Date? { date.flatMap { Timestamp.parse(Timestamp.formatWithMilliseconds($0)) } }
        recipient.nextAttempt = round(recipient.nextAttempt)
        recipient.updated = round(recipient.updated)
        return EventLine(.delivery(id: id, recipient: recipient))
    }
}
