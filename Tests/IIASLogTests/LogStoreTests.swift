import Foundation
import IIASCrypto
import IIASLog
import IIASTestSupport
import XCTest

final class LogStoreTests: XCTestCase {
    func freshDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iias-log-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    static func payload(_ i: Int) -> [UInt8] { Array("envelope \(i) ".utf8) + [UInt8](repeating: UInt8(i & 0xFF), count: i % 300) }

    /// Fills a log with `n` concurrent appends over small segments; returns index → payload.
    func fill(_ dir: String, _ n: Int) async throws -> [UInt64: [UInt8]] {
        let log = try LogStore(directory: dir, segmentSize: 4096)
        defer { log.close() }
        return try await withThrowingTaskGroup(of: (UInt64, [UInt8]).self) { group in
            for i in 0..<n { group.addTask { (try await log.append(type: .sent, payload: Self.payload(i)), Self.payload(i)) } }
            var out: [UInt64: [UInt8]] = [:]
            for try await (index, p) in group { XCTAssertNil(out.updateValue(p, forKey: index)) }
            return out
        }
    }

    func testConcurrentAppendsAreDurableAndReadable() async throws {
        let dir = try freshDirectory()
        let written = try await fill(dir, 300)
        XCTAssertEqual(Set(written.keys), Set(0..<300))
        XCTAssertGreaterThan(try FileManager.default.contentsOfDirectory(atPath: dir).count, 3, "segments rolled")
        let log = try LogStore(directory: dir, segmentSize: 4096)
        defer { log.close() }
        XCTAssertNil(log.truncatedTail)
        XCTAssertEqual(log.count, 300)
        var tree = InMemoryMerkleTree()
        for i in 0..<UInt64(300) {
            let e = try log.entry(at: i)
            XCTAssertEqual(e.index, i)
            XCTAssertEqual(e.payload, written[i])
            tree.append(leafHash: Merkle.hashLeaf(e.encoded()))
        }
        XCTAssertEqual(try log.merkleTree().rootHash(treeSize: 300), try tree.rootHash(treeSize: 300))
        let before = try log.merkleTree().rootHash(treeSize: 300)
        let next = try await log.append(type: .receipt, payload: [1, 2, 3])
        XCTAssertEqual(next, 300)
        let proof = try log.merkleTree().consistencyProof(from: 300, to: 301)
        XCTAssertTrue(Merkle.verifyConsistency(firstSize: 300, secondSize: 301, firstRoot: before,
                                               secondRoot: try log.merkleTree().rootHash(treeSize: 301), proof: proof))
        XCTAssertThrowsError(try log.entry(at: 302))
    }

    func lastSegment(_ dir: String) throws -> String {
        dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted().last!)
    }

    func testTornTailIsCutAndReported() async throws {
        let dir = try freshDirectory()
        _ = try await fill(dir, 50)
        let path = try lastSegment(dir)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // A half-written record: a header announcing 100 bytes, then 10 bytes.
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data([0, 0, 0, 100, 1, 2, 3, 4] + [UInt8](repeating: 7, count: 10)))
        try h.close()
        let log = try LogStore(directory: dir, segmentSize: 4096)
        defer { log.close() }
        XCTAssertEqual(log.truncatedTail?.offset, size)
        XCTAssertEqual(log.truncatedTail?.bytes, 18)
        XCTAssertEqual(log.count, 50)
        let next = try await log.append(type: .sent, payload: [9])
        XCTAssertEqual(next, 50)
        XCTAssertEqual(try log.entry(at: 50).payload, [9])
    }

    /// A writable open trusts the prefix the hashes/index files cover (it does not read
    /// those records); reading the damaged entry fails, and the auditor's read-only open
    /// (which scans every record) refuses the log.
    func size(_ path: String) throws -> Int { try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int }

    /// The log's files as a crash would leave them: copied while the store is open.
    func crashCopy(of dir: String) throws -> String {
        let copy = try freshDirectory()
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir) {
            try FileManager.default.copyItem(atPath: dir + "/" + name, toPath: copy + "/" + name)
        }
        return copy
    }

    /// Where the records of the only segment end: its size once a clean close cut the zeros.
    func recordsEnd(_ dir: String, _ payloads: [[UInt8]]) async throws -> Int {
        let probe = try freshDirectory()
        let log = try LogStore(directory: probe)
        for payload in payloads { _ = try await log.append(type: .sent, payload: payload) }
        log.close()
        return try size(lastSegment(probe))
    }

    func testZerosAheadOfTheRecordsAreWrittenCutAtCloseAndReadAsTheEnd() async throws {
        let dir = try freshDirectory()
        let payloads = (0..<20).map { Self.payload($0) }
        let log = try LogStore(directory: dir)
        for payload in payloads { _ = try await log.append(type: .sent, payload: payload) }
        let segment = try lastSegment(dir)
        let end = try await recordsEnd(dir, payloads)
        // Written with the first batch: a MiB past its end, which the later ones overwrite.
        XCTAssertGreaterThan(try size(segment), end)
        XCTAssertGreaterThanOrEqual(try size(segment), LogStore.defaultPreallocation, "zeros written ahead of the records")
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: segment))[end...].allSatisfy { $0 == 0 })

        // A crash leaves them: the open reads them as the end, not as a torn tail, and appends go after the records.
        let crashed = try crashCopy(of: dir)
        let reopened = try LogStore(directory: crashed)
        XCTAssertNil(reopened.truncatedTail)
        XCTAssertEqual(reopened.count, 20)
        let appended = try await reopened.append(type: .receipt, payload: [9])
        XCTAssertEqual(appended, 20)
        reopened.close()
        XCTAssertNil(try LogStore(directory: crashed, readOnly: true).truncatedTail)
        let again = try LogStore(directory: crashed)
        XCTAssertEqual(again.entries().map(\.payload), payloads + [[9]])
        again.close()

        // An auditor's read-only open of a live log meets them too.
        let audited = try LogStore(directory: dir, readOnly: true)
        XCTAssertNil(audited.truncatedTail)
        XCTAssertEqual(audited.count, 20)

        log.close()
        XCTAssertEqual(try size(segment), end, "a clean close cuts the zeros off")
    }

    func testATornRecordInTheZerosIsCutAndDamageBeyondThemRefusesToOpen() async throws {
        let dir = try freshDirectory()
        let payloads = (0..<10).map { Self.payload($0) }
        let log = try LogStore(directory: dir)
        defer { log.close() }
        for payload in payloads { _ = try await log.append(type: .sent, payload: payload) }
        let end = try await recordsEnd(dir, payloads)

        // A half-written record where the next batch goes, zeros after it: a torn write.
        let torn = try crashCopy(of: dir)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: try lastSegment(torn)))
        try h.seek(toOffset: UInt64(end))
        try h.write(contentsOf: Data([0, 0, 0, 100, 1, 2, 3, 4] + [UInt8](repeating: 7, count: 10)))
        try h.close()
        let cut = try LogStore(directory: torn)
        XCTAssertEqual(cut.truncatedTail?.offset, end)
        XCTAssertEqual(cut.count, 10)
        let next = try await cut.append(type: .receipt, payload: [9])
        XCTAssertEqual(next, 10)
        cut.close()
        XCTAssertEqual(try LogStore(directory: torn, readOnly: true).entries().map(\.payload), payloads + [[9]])

        // A byte that is not zero far inside them is damage, not a torn write.
        let damaged = try crashCopy(of: dir)
        let d = try FileHandle(forWritingTo: URL(fileURLWithPath: try lastSegment(damaged)))
        try d.seek(toOffset: UInt64(end + 50_000))
        try d.write(contentsOf: Data([1]))
        try d.close()
        XCTAssertThrowsError(try LogStore(directory: damaged)) { error in
            guard case LogStoreError.corrupt(_, let offset, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, end)
        }
    }

    func testSegmentsEndAtTheirLastRecordAndPreallocationCanBeOff() async throws {
        let dir = try freshDirectory()
        let log = try LogStore(directory: dir, segmentSize: 4096)
        for i in 0..<200 { _ = try await log.append(type: .sent, payload: Self.payload(i)) }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted()
        XCTAssertGreaterThan(names.count, 2)
        for name in names.dropLast() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            XCTAssertLessThanOrEqual(bytes.count, 4096)
            XCTAssertNotEqual(bytes.last, 0, "\(name) ends at its last record")
        }
        XCTAssertEqual(try size(dir + "/" + names.last!), 4096, "zeros up to the segment size, not past it")
        log.close()
        XCTAssertNil(try LogStore(directory: dir, readOnly: true).truncatedTail)

        // Preallocation off: the segment holds its records only.
        let plain = try freshDirectory()
        let unallocated = try LogStore(directory: plain, preallocation: 0)
        defer { unallocated.close() }
        let payloads = (0..<5).map { Self.payload($0) }
        for payload in payloads { _ = try await unallocated.append(type: .sent, payload: payload) }
        let end = try await recordsEnd(plain, payloads)
        XCTAssertEqual(try size(lastSegment(plain)), end)
    }

    func testASecondWriterIsRefusedWhileReadersAreNot() async throws {
        let dir = try freshDirectory()
        let log = try LogStore(directory: dir)
        _ = try await log.append(type: .sent, payload: [1])
        XCTAssertThrowsError(try LogStore(directory: dir)) { error in
            XCTAssertEqual(error as? LogStoreError, .inUse(directory: dir))
            XCTAssertTrue("\(error)".contains("another process"), "\(error)")
        }
        let reader = try LogStore(directory: dir, readOnly: true)
        XCTAssertEqual(reader.count, 1, "an auditor reads a log in use")
        XCTAssertEqual(try log.entry(at: 0).payload, [1], "the refused open changed nothing")
        log.close()
        let next = try LogStore(directory: dir)
        defer { next.close() }
        XCTAssertEqual(next.count, 1, "after a close the log opens for writing again")
    }

    func testFlippedByteBeforeTailRefusesToOpen() async throws {
        let dir = try freshDirectory()
        _ = try await fill(dir, 100)
        let first = dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir).sorted().first!)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: first))
        bytes[200] ^= 0x10
        try bytes.write(to: URL(fileURLWithPath: first))
        let trusting = try LogStore(directory: dir, segmentSize: 4096)
        XCTAssertEqual(trusting.trustedPrefix, 100)
        let all = trusting.entries()
        XCTAssertLessThan(Array(all).count, 100)
        XCTAssertNotNil(all.error)
        XCTAssertEqual(Array(trusting.entries(from: 99)).count, 1)
        trusting.close()
        XCTAssertThrowsError(try LogStore(directory: dir, segmentSize: 4096, readOnly: true)) { error in
            guard case let LogStoreError.corrupt(segment, offset, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(segment, URL(fileURLWithPath: first).lastPathComponent)
            XCTAssertLessThanOrEqual(offset, 200)
        }
    }

    func testMissingOrBadSegmentIsDetected() async throws {
        let dir = try freshDirectory()
        _ = try await fill(dir, 100)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertGreaterThan(names.count, 2)
        try FileManager.default.removeItem(atPath: dir + "/" + names[1])
        XCTAssertThrowsError(try LogStore(directory: dir, segmentSize: 4096)) { error in
            guard case LogStoreError.badSegment = error else { return XCTFail("\(error)") }
        }
        // A renamed (reordered) segment: its header no longer matches its place.
        try FileManager.default.moveItem(atPath: dir + "/" + names[2], toPath: dir + "/" + names[1])
        XCTAssertThrowsError(try LogStore(directory: dir, segmentSize: 4096)) { error in
            guard case LogStoreError.badSegment = error else { return XCTFail("\(error)") }
        }
    }

    func testOversizePayloadRefused() async throws {
        let log = try LogStore(directory: try freshDirectory(), maximumEntrySize: 1024)
        defer { log.close() }
        do { _ = try await log.append(type: .sent, payload: [UInt8](repeating: 0, count: 2000)); XCTFail("accepted") } catch {}
        let first = try await log.append(type: .sent, payload: [1])
        XCTAssertEqual(first, 0)
    }
}

extension LogStoreTests {
    /// An auditor's read-only open reports a torn tail without cutting it and refuses appends.
    /// Segments are scanned on every core, a window at a time: with many more segments
    /// than cores, a read-only open and a rebuild from the segments alone (side files
    /// gone) find every entry where it is and the same tree as the log that wrote them.
    func testManySegmentsScanInOrder() async throws {
        let dir = try freshDirectory()
        let payloads = try await fill(dir, 300)
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }
        XCTAssertGreaterThan(segments.count, 4 * ProcessInfo.processInfo.activeProcessorCount)
        let root: [UInt8]
        do {
            let log = try LogStore(directory: dir, segmentSize: 4096)
            root = try log.merkleTree().rootHash(treeSize: 300)
            log.close()
        }
        let readOnly = try LogStore(directory: dir, segmentSize: 4096, readOnly: true)
        XCTAssertEqual(readOnly.count, 300)
        XCTAssertNil(readOnly.truncatedTail)
        XCTAssertEqual(try readOnly.merkleTree().rootHash(treeSize: 300), root)
        XCTAssertEqual(readOnly.rootHash, root)
        for (index, payload) in payloads { XCTAssertEqual(try readOnly.entry(at: index).payload, payload) }
        readOnly.close()
        for name in [LogStore.hashesFileName, LogStore.indexFileName] { try FileManager.default.removeItem(atPath: dir + "/" + name) }
        let rebuilt = try LogStore(directory: dir, segmentSize: 4096)
        XCTAssertEqual(rebuilt.count, 300)
        XCTAssertEqual(try rebuilt.merkleTree().rootHash(treeSize: 300), root)
        let next = try await rebuilt.append(type: .sent, payload: [9])
        XCTAssertEqual(next, 300)
        XCTAssertEqual(try rebuilt.entry(at: 299).payload, payloads[299])
        rebuilt.close()
    }

    /// Runs of entries read with one pread: the same entries as one at a time, bounded
    /// in bytes, and a record damaged after the open ends an iteration at that record,
    /// with its own error, after every entry before it.
    func testRunsOfEntriesReadAsOneAndStopAtDamage() async throws {
        let dir = try freshDirectory()
        let payloads = try await fill(dir, 300)
        let log = try LogStore(directory: dir, segmentSize: 4096, readOnly: true)
        defer { log.close() }
        let run = try log.readEntries(0..<300)
        XCTAssertEqual(run.map(\.index), Array(0..<300))
        for entry in run { XCTAssertEqual(entry.payload, payloads[entry.index]) }
        XCTAssertEqual(try log.readEntries(7..<7), [])
        XCTAssertThrowsError(try log.readEntries(0..<301))
        XCTAssertEqual(log.entries(from: 290, to: 295).map(\.index), Array(290..<295))

        let place = try XCTUnwrap(log.location(of: 150))
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: dir + "/" + place.segment))
        try file.seek(toOffset: UInt64(place.offset + Record.headerSize + 3))
        let byte = try XCTUnwrap(file.readData(ofLength: 1).first)
        try file.seek(toOffset: UInt64(place.offset + Record.headerSize + 3))
        try file.write(contentsOf: Data([byte ^ 0xFF]))
        try file.close()
        let entries = log.entries()
        XCTAssertEqual(entries.map(\.index), Array(0..<150))
        XCTAssertTrue("\(entries.error.map { "\($0)" } ?? "none")".contains("CRC32C mismatch"), "\(String(describing: entries.error))")
        XCTAssertThrowsError(try log.readEntries(140..<160))
    }

    func testARunOfLargeEntriesIsReadAPartAtATime() async throws {
        let dir = try freshDirectory()
        let log = try LogStore(directory: dir)
        let big = (0..<3).map { [UInt8](repeating: UInt8($0), count: 3 << 20) }
        for payload in big { _ = try await log.append(type: .sent, payload: payload) }
        let part = try log.readEntries(0..<3)
        XCTAssertTrue((1...2).contains(part.count), "\(part.count) entries of 3 MiB held at once")
        XCTAssertEqual(log.entries().map(\.payload), big)
        log.close()
    }

    func testReadOnlyOpenChangesNothing() async throws {
        let dir = try freshDirectory()
        _ = try await fill(dir, 20)
        let path = try lastSegment(dir)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data([0, 0, 0, 50, 1]))
        try h.close()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let log = try LogStore(directory: dir, segmentSize: 4096, readOnly: true)
        XCTAssertEqual(log.count, 20)
        XCTAssertEqual(log.truncatedTail?.bytes, 5)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int, size)
        do { _ = try await log.append(type: .sent, payload: [1]); XCTFail("appended to a read-only log") } catch {}
    }
}

/// `append(_:)` of several entries: consecutive indexes in the given order, one batch.
final class LogStoreBatchTests: XCTestCase {
    func testBatchAppendsAreConsecutiveInOrderAndInterleaveWithSingles() async throws {
        let dir = try makeTemporaryDirectory("iias-batch").path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 4096)
        let empty = try await log.append([])
        XCTAssertEqual(empty, [])
        try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for t in 0..<8 {
                group.addTask {
                    if t % 2 == 0 { return [try await log.append(type: .operatorAction, payload: Array("single \(t)".utf8))] }
                    let written = try await log.append((0..<5).map { (EntryType.received, Array("batch \(t) item \($0)".utf8)) })
                    for entry in written {
                        XCTAssertEqual(try log.entry(at: entry.index), entry, "a batch returns its entries as they were written")
                    }
                    return written.map(\.index)
                }
            }
            for try await indexes in group where indexes.count == 5 {
                XCTAssertEqual(indexes, Array(indexes[0]...(indexes[0] + 4)), "a batch gets consecutive indexes")
                let texts = try indexes.map { String(decoding: try log.entry(at: $0).payload, as: UTF8.self) }
                let prefix = texts[0].components(separatedBy: " item ")[0]
                XCTAssertEqual(texts, (0..<5).map { "\(prefix) item \($0)" }, "in the order given")
            }
        }
        XCTAssertEqual(log.count, 4 + 4 * 5)
        do {
            _ = try await log.append([(.received, [UInt8](repeating: 0, count: 17 << 20))])
            XCTFail("an oversize entry in a batch was accepted")
        } catch {}
        XCTAssertEqual(log.count, 24, "nothing of a refused batch is written")
        log.close()
    }
}

/// Group commit with a leader: an appender that finds the log idle writes its own batch;
/// the writer thread takes the rest. Both must give one order, and a close in the middle
/// must lose nothing that was acknowledged.
final class LogStoreLeaderTests: XCTestCase {
    func testIdleAppendsAndQueuedAppendsInterleaveWithTreeHeadsIntoOneVerifiableOrder() async throws {
        let dir = try makeTemporaryDirectory("iias-leader").path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 8192)
        let key = SigningPrivateKey.generate()
        // One at a time (each finds the log idle and leads), then bursts (most queue).
        var acknowledged: [UInt64: [UInt8]] = [:]
        for i in 0..<20 {
            let payload = Array("alone \(i)".utf8)
            acknowledged[try await log.append(type: .operatorAction, payload: payload)] = payload
        }
        for round in 0..<5 {
            try await withThrowingTaskGroup(of: [(UInt64, [UInt8])].self) { group in
                for t in 0..<16 {
                    group.addTask {
                        let items = (0..<(t % 3 + 1)).map { (EntryType.received, Array("burst \(round) task \(t) item \($0)".utf8)) }
                        return try await log.append(items).map { ($0.index, $0.payload) }
                    }
                }
                group.addTask { _ = try await log.appendTreeHead(signer: "AZ", key: key); return [] }
                for try await written in group { for (index, payload) in written { XCTAssertNil(acknowledged.updateValue(payload, forKey: index)) } }
            }
        }
        let count = log.count
        log.close()
        let reopened = try LogStore(directory: dir, segmentSize: 8192, readOnly: true)
        XCTAssertNil(reopened.truncatedTail)
        XCTAssertEqual(reopened.count, count)
        for (index, payload) in acknowledged { XCTAssertEqual(try reopened.entry(at: index).payload, payload, "entry \(index)") }
        XCTAssertEqual(Set(acknowledged.keys).count, acknowledged.count)
        XCTAssertEqual(count - UInt64(acknowledged.count), 5, "the rest are the five tree heads")
    }

    func testAppendersWriteTheirOwnBatchOnlyWhileSyncsAreFast() async throws {
        for (slowSync, expected) in [(Duration.seconds(60), UInt64(10)), (Duration.zero, UInt64(1))] {
            let dir = try makeTemporaryDirectory("iias-leader-slow").path + "/log"
            let log = try LogStore(directory: dir, slowSync: slowSync)
            for i in 0..<10 { _ = try await log.append(type: .operatorAction, payload: Array("one at a time \(i)".utf8)) }
            // Fast syncs: each append, alone on an idle log, is written by its caller. A sync
            // slower than `slowSync` (here: any) hands every later append to the writer thread.
            XCTAssertEqual(log.batchesWrittenByCallers, expected, "slowSync \(slowSync)")
            XCTAssertEqual(log.count, 10)
            log.close()
        }
    }

    func testACloseDuringAppendsLosesNothingAcknowledged() async throws {
        let dir = try makeTemporaryDirectory("iias-leader-close").path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 4096)
        let results = await withTaskGroup(of: (Int, UInt64?).self) { group in
            for i in 0..<200 {
                group.addTask {
                    if i == 100 { log.close() }
                    return (i, try? await log.append(type: .sent, payload: Array("entry \(i)".utf8)))
                }
            }
            var all: [(Int, UInt64?)] = []
            for await result in group { all.append(result) }
            return all
        }
        let acknowledged = results.compactMap { i, index in index.map { ($0, i) } }
        XCTAssertFalse(acknowledged.isEmpty)
        let reopened = try LogStore(directory: dir, segmentSize: 4096, readOnly: true)
        XCTAssertNil(reopened.truncatedTail, "a close leaves no torn tail")
        XCTAssertEqual(reopened.count, UInt64(acknowledged.count), "exactly what was acknowledged is there")
        for (index, i) in acknowledged { XCTAssertEqual(try reopened.entry(at: index).payload, Array("entry \(i)".utf8)) }
        do { _ = try await log.append(type: .sent, payload: [1]); XCTFail("appended after close") } catch {}
    }
}

/// `entry(at:)` reads a typical record in one go and a longer one in two: sizes around the
/// first read's edge, and past it, come back whole, in a live log and after reopening.
final class LogStoreReadSizeTests: XCTestCase {
    func testRecordsAroundAndPastTheFirstReadComeBackWhole() async throws {
        let dir = try makeTemporaryDirectory("iias-read-size").path + "/log"
        let log = try LogStore(directory: dir, segmentSize: 1 << 20)
        let edge = 4096 - Record.headerSize - 17   // index, time and type precede the payload
        let sizes = [0, 1, edge - 1, edge, edge + 1, 4096, 10_000, 100_000]
        var written: [UInt64: [UInt8]] = [:]
        for (i, size) in sizes.enumerated() {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            written[try await log.append(type: .operatorAction, payload: payload)] = payload
        }
        for (index, payload) in written { XCTAssertEqual(try log.entry(at: index).payload, payload, "\(payload.count) bytes") }
        log.close()
        let reopened = try LogStore(directory: dir, segmentSize: 1 << 20, readOnly: true)
        for (index, payload) in written { XCTAssertEqual(try reopened.entry(at: index).payload, payload, "\(payload.count) bytes after reopening") }
    }
}
