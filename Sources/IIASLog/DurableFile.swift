import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Replaces a small file so that a crash leaves either the old bytes or the new ones,
/// never a mix: write a temporary file beside it (mode 0600), fsync, rename over the
/// old one, fsync the directory. For the checkpoint file and the node's ledger snapshot,
/// and reads such files (and the log's caches) back in one copy.
public enum DurableFile {
    /// The whole file, read straight into one array (no intermediate `Data`); nil when it
    /// does not exist. Refuses a file larger than `limit` before allocating.
    public static func read(_ path: String, limit: Int = 1 << 34) throws -> [UInt8]? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw LogStoreError.io("open \(path)", errno: errno)
        }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw LogStoreError.io("stat \(path)", errno: errno) }
        let size = Int(info.st_size)
        guard size <= limit else { throw LogStoreError.io("\(path) is \(size) bytes, over \(limit)", errno: EFBIG) }
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            while initialized < size {
                let n = Glibc.read(fd, buffer.baseAddress! + initialized, size - initialized)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { failure = n < 0 ? errno : 0; break }
                initialized += n
            }
        }
        if failure != 0 { throw LogStoreError.io("read \(path)", errno: failure) }
        return bytes
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        let temp = path + ".tmp"
        let fd = Glibc.open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LogStoreError.io("create \(temp)", errno: errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                Glibc.close(fd)
                unlink(temp)
                throw LogStoreError.io("write \(temp)", errno: e)
            }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; Glibc.close(fd); unlink(temp); throw LogStoreError.io("fsync \(temp)", errno: e) }
        Glibc.close(fd)
        guard rename(temp, path) == 0 else { let e = errno; unlink(temp); throw LogStoreError.io("rename \(temp)", errno: e) }
        let directory = (path as NSString).deletingLastPathComponent
        let dfd = Glibc.open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw LogStoreError.io("open \(directory)", errno: errno) }
        defer { Glibc.close(dfd) }
        guard fsync(dfd) == 0 else { throw LogStoreError.io("fsync \(directory)", errno: errno) }
    }
}
