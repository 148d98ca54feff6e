import Foundation
import IIASCrypto
#if canImport(Glibc)
import Glibc
#endif

// The derived caches beside the segments (`hashes`, `index`): written after each sync, synced with tree heads.
extension LogStore {
    func writeSide(_ hashes: [UInt8], _ index: [UInt8]) throws {
        try writeAll(hashes, at: hashesOffset, fd: hashesFD)
        hashesOffset += hashes.count
        try writeAll(index, at: indexOffset, fd: indexFD)
        indexOffset += index.count
    }

    func syncSide() throws {
        guard fdatasync(hashesFD) == 0, fdatasync(indexFD) == 0 else { throw LogStoreError.io("fdatasync", errno: errno) }
    }
}
