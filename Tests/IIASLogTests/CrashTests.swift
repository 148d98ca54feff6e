import Foundation
import IIASLog
import IIASTestSupport
import XCTest

/// Crash safety with a real process: the helper appends from 8 tasks and prints each
/// index its append returned; we SIGKILL it after a random number of printed lines.
/// After each kill, every printed index must be present with its payload, and new
/// appends must continue the tree (consistency proof from the old size verifies).
final class CrashTests: XCTestCase {
    var helper: String {
        URL(fileURLWithPath: RepositoryPaths.iiasExecutable).deletingLastPathComponent()
            .appendingPathComponent("iias-log-crash-helper").path
    }

    func testSIGKILLNeverLosesAnAcknowledgedAppend() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iias-crash-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var acknowledged: [UInt64: String] = [:]
        for round in 0..<20 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: helper)
            process.arguments = [dir.path, "r\(round)"]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let target = Int.random(in: 1...200)
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while text.split(separator: "\n").count < target && Date() < deadline {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            text += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(process.terminationReason, .uncaughtSignal, "round \(round)")
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 2, let index = UInt64(parts[0]) else { continue } // a torn last print line
                XCTAssertNil(acknowledged.updateValue(String(parts[1]), forKey: index), "index \(index) given twice")
            }
            XCTAssertGreaterThanOrEqual(acknowledged.count, 1)

            let log = try LogStore(directory: dir.path, segmentSize: 16 * 1024)
            for (index, payload) in acknowledged {
                XCTAssertEqual(String(decoding: try log.entry(at: index).payload, as: UTF8.self), payload, "round \(round) index \(index)")
            }
            let size = log.count
            let oldRoot = try log.merkleTree().rootHash(treeSize: size)
            let semaphore = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var newIndex: UInt64?
            Task { newIndex = try? await log.append(type: .operatorAction, payload: Array("after \(round)".utf8)); semaphore.signal() }
            XCTAssertEqual(semaphore.wait(timeout: .now() + 10), .success)
            XCTAssertEqual(newIndex, size)
            let tree = try log.merkleTree()
            XCTAssertTrue(Merkle.verifyConsistency(firstSize: size, secondSize: size + 1, firstRoot: oldRoot,
                                                   secondRoot: try tree.rootHash(treeSize: size + 1),
                                                   proof: try tree.consistencyProof(from: size, to: size + 1)))
            acknowledged[size] = "after \(round)"
            log.close()
        }
    }
}
