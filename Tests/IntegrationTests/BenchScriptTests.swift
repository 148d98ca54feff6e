import Foundation
import IIASTestSupport
import XCTest

/// Scripts/bench/flash-trace.py reads perf's text: a trace whose answer is known, then
/// garbage, an empty trace and a broken thread map, each refused with a clear message.
final class BenchScriptTests: XCTestCase {
    private let script = RepositoryPaths.script("bench/flash-trace.py")

    private func run(trace: String, threads: String) throws -> (ProcessRunner.Result, [String: Any]?) {
        let folder = try makeTemporaryDirectory("flash-trace")
        let tracePath = folder.appendingPathComponent("perf.txt").path, threadsPath = folder.appendingPathComponent("threads.txt").path
        let jsonPath = folder.appendingPathComponent("out.json").path
        try Data(trace.utf8).write(to: URL(fileURLWithPath: tracePath))
        try Data(threads.utf8).write(to: URL(fileURLWithPath: threadsPath))
        let result = try ProcessRunner.run("/usr/bin/env", ["python3", script, tracePath, threadsPath, "--json", jsonPath])
        let json = (try? Data(contentsOf: URL(fileURLWithPath: jsonPath))).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
        return (result, json)
    }

    private let threads = "101 AZ oot.default-qos\n102 AZ NIO-SGLTN-1-#1\n201 GE oot.default-qos\n301 client iias-node-bench\n"

    /// Ten notifications, one every 1,000 µs: the client (301) asks AZ's loop (102), which
    /// hands to AZ's worker (101: seal, fdatasync 100 µs), which sends to GE (201: fdatasync
    /// 100 µs), whose receipt AZ logs (fdatasync 100 µs) and tells the client.
    private func syntheticTrace(notifications: Int) -> String {
        var lines: [String] = []
        func at(_ base: Double, _ microseconds: Double) -> String { String(format: "%.6f", base + microseconds / 1e6) }
        func run(_ tid: Int, _ t: String) { lines.append("    0 \(t): sched:sched_switch: prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=x next_pid=\(tid) next_prio=120") }
        func stop(_ tid: Int, _ t: String) { lines.append("\(tid) \(t): sched:sched_switch: prev_comm=x prev_pid=\(tid) prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120") }
        func wake(_ waker: Int, _ wakee: Int, _ t: String) { lines.append("\(waker) \(t): sched:sched_wakeup: comm=x pid=\(wakee) prio=120 target_cpu=000") }
        func sync(_ tid: Int, _ from: String, _ to: String) {
            lines.append("\(tid) \(from): syscalls:sys_enter_fdatasync: fd: 0x0000000f")
            lines.append("\(tid) \(to):  syscalls:sys_exit_fdatasync: 0x0")
        }
        for k in 0..<notifications {
            let t0 = 1000.0 + Double(k) * 0.001
            run(301, at(t0, 0)); wake(301, 102, at(t0, 50)); stop(301, at(t0, 50))
            run(102, at(t0, 55)); wake(102, 101, at(t0, 75)); stop(102, at(t0, 75))
            run(101, at(t0, 80)); sync(101, at(t0, 100), at(t0, 200)); wake(101, 201, at(t0, 250)); stop(101, at(t0, 250))
            run(201, at(t0, 260)); sync(201, at(t0, 300), at(t0, 400)); wake(201, 101, at(t0, 450)); stop(201, at(t0, 450))
            run(101, at(t0, 460)); sync(101, at(t0, 500), at(t0, 600)); wake(101, 301, at(t0, 700)); stop(101, at(t0, 700))
            run(301, at(t0, 710)); stop(301, at(t0, 720))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func testAKnownTraceGivesItsFigures() throws {
        let (result, json) = try run(trace: syntheticTrace(notifications: 10), threads: threads)
        XCTAssertEqual(result.status, 0, result.stderr)
        let figures = try XCTUnwrap(json, result.stdout)
        XCTAssertEqual(figures["notifications"] as? Int, 10)
        XCTAssertEqual(try XCTUnwrap(figures["cycleMicroseconds"] as? Double), 972, accuracy: 0.5)   // (9 x 1,000 + 720) / 10
        let fsync = try XCTUnwrap(figures["fdatasync"] as? [String: [String: Double]])
        XCTAssertEqual(try XCTUnwrap(fsync["AZ"]?["perNotification"]), 2, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(fsync["AZ"]?["microsecondsPerNotification"]), 200, accuracy: 0.5)
        XCTAssertEqual(try XCTUnwrap(fsync["GE"]?["p50Microseconds"]), 100, accuracy: 0.5)
        let cpu = try XCTUnwrap(figures["cpuMicrosecondsPerNotification"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(cpu["AZ"]), 20 + 170 + 240, accuracy: 0.5)
        XCTAssertEqual(try XCTUnwrap(cpu["GE"]), 190, accuracy: 0.5)
        XCTAssertEqual(try XCTUnwrap(cpu["client"]), 60, accuracy: 0.5)
        let within = try XCTUnwrap(figures["handOversWithinAProcess"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(within["perNotification"]), 1, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(within["waitP50Microseconds"]), 5, accuracy: 0.5)
        let across = try XCTUnwrap(figures["handOversBetweenProcesses"] as? [String: Double])
        XCTAssertEqual(try XCTUnwrap(across["perNotification"]), 4, accuracy: 1e-9)
        XCTAssertTrue(result.stdout.contains("10 notifications"), result.stdout)
    }

    func testGarbageAnEmptyTraceAndABrokenThreadMapAreRefusedByName() throws {
        var garbage = ""
        for _ in 0..<200 { garbage += String((0..<40).map { _ in Character(UnicodeScalar(UInt8.random(in: 32...126))) }) + "\n" }
        for trace in [garbage, "", String(syntheticTrace(notifications: 3).prefix(700))] {
            let (result, json) = try run(trace: trace, threads: threads)
            XCTAssertEqual(result.status, 1, "\(result.stdout)\n\(result.stderr)")
            XCTAssertTrue(result.stderr.contains("no fdatasync of two nodes"), result.stderr)
            XCTAssertNil(json)
        }
        let (result, json) = try run(trace: syntheticTrace(notifications: 3), threads: threads + "oops\n")
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("line 5 is not 'TID PROCESS THREAD'"), result.stderr)
        XCTAssertNil(json)
    }
}
