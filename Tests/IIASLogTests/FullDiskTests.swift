import Foundation
import IIASLog
import IIASTestSupport
import XCTest

/// A log on a small filesystem of its own (tmpfs with a size): when the disk fills, the
/// append that cannot be made durable fails with an error, nothing that succeeded is
/// lost, the log reopens and verifies, and appends resume when space returns.
final class FullDiskTests: XCTestCase {
    func testFullDiskRefusesLosesNothingAndResumes() async throws {
        let mountPoint = try makeTemporaryDirectory("iias-fulldisk")
        guard mount("tmpfs", mountPoint.path, "tmpfs", 0, "size=192k,mode=0700") == 0 else {
            throw XCTSkip("cannot mount a tmpfs here (needs root): \(String(cString: strerror(errno)))")
        }
        defer { umount2(mountPoint.path, Int32(MNT_DETACH)) }
        let dir = mountPoint.path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 32 * 1024)
        var written: [UInt64: [UInt8]] = [:]
        var refusal: (any Error)?
        for i in 0..<1000 {
            let payload = Array("entry \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xff), count: 1000)
            do {
                let index = try await log.append(type: .operatorAction, payload: payload)
                XCTAssertEqual(index, UInt64(written.count), "indexes stay consecutive")
                written[index] = payload
            } catch {
                refusal = error
                break
            }
        }
        let error = try XCTUnwrap(refusal, "a 192 KiB filesystem must fill")
        XCTAssertTrue("\(error)".contains("No space") || "\(error)".contains("28"), "\(error)")
        XCTAssertGreaterThan(written.count, 50)
        // A second attempt on the full disk fails the same way and changes nothing.
        do { _ = try await log.append(type: .operatorAction, payload: [1, 2, 3] + [UInt8](repeating: 0, count: 4000)); XCTFail("appended on a full disk") } catch {}
        XCTAssertEqual(log.count, UInt64(written.count))
        for (index, payload) in written { XCTAssertEqual(try log.entry(at: index).payload, payload) }
        log.close()

        // Space returns: the log reopens with every acknowledged entry and continues.
        XCTAssertEqual(mount("tmpfs", mountPoint.path, "tmpfs", UInt(MS_REMOUNT), "size=4m,mode=0700"), 0)
        let reopened = try LogStore(directory: dir, segmentSize: 32 * 1024)
        XCTAssertEqual(reopened.count, UInt64(written.count))
        for (index, payload) in written { XCTAssertEqual(try reopened.entry(at: index).payload, payload) }
        let next = try await reopened.append(type: .operatorAction, payload: Array("after".utf8))
        XCTAssertEqual(next, UInt64(written.count))
        reopened.close()
        let audit = try LogStore(directory: dir, readOnly: true)
        XCTAssertEqual(audit.count, UInt64(written.count + 1))
        audit.close()
    }
}
