import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The derived caches beside the segments (`hashes`, `index`), as their writer holds
/// them: written after each sync, synced with tree heads and at a clean close, checked
/// at open. Owned by the ``LogWriter`` (open fills them before handing them over);
/// readers use a descriptor of their own.
struct LogCacheFiles {
    let hashesFD: Int32
    let indexFD: Int32
    /// Where the next stored hashes and index entries go.
    var hashesOffset: Int
    var indexOffset: Int

    mutating func append(hashes: [UInt8], index: [UInt8]) throws {
        try LogWriter.writeAll(hashes, at: hashesOffset, fd: hashesFD)
        hashesOffset += hashes.count
        try LogWriter.writeAll(index, at: indexOffset, fd: indexFD)
        indexOffset += index.count
    }

    func sync() throws {
        guard fdatasync(hashesFD) == 0, fdatasync(indexFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
    }

    func close() {
        Glibc.close(hashesFD)
        Glibc.close(indexFD)
    }
}
