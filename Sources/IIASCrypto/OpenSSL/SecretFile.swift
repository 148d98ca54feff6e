import CSodium
import Foundation

/// Reads the files that hold secrets — private keys and the passphrase that opens
/// them — with read(2) straight into one buffer that the caller wipes, never through
/// `Data` or `FileHandle`, whose copies are freed without being cleared. Every such
/// file must be readable by its owner only: a secret that another account can read
/// is a secret already shared.
public enum SecretFile {
    /// The most a passphrase file may hold (systemd's credentials are small too).
    public static let maximumPassphraseFileSize = 4096

    /// Refuses a file that group or others may read or write, naming the fix.
    public static func checkPermissions(_ path: String, what: String) throws(CryptoError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .io("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
        }
        let mode = info.st_mode & 0o777
        if mode & 0o077 != 0 {
            throw .invalidKey("\(what) \(path) is readable by others (mode \(String(mode, radix: 8))); run: chmod 600 \(path)")
        }
    }

    /// The whole file, at most `limit` bytes, permissions checked first. The caller
    /// wipes the result (`wipe(_:)`).
    public static func read(_ path: String, limit: Int, what: String) throws(CryptoError) -> [UInt8] {
        try checkPermissions(path, what: what)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .io("cannot read \(what) \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw .io("\(what) \(path) is not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            throw .io("\(what) \(path) is \(info.st_size) bytes; the limit is \(limit)")
        }
        // One allocation of the final size, plus one byte to notice a file that grew.
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
        var filled = 0
        while filled < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                wipe(&bytes)
                throw .io("cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            filled += n
        }
        guard filled <= Int(info.st_size) else {
            wipe(&bytes)
            throw .io("\(what) \(path) changed while it was read; try again")
        }
        bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress! + filled, $0.count - filled) }
        bytes.removeLast(bytes.count - filled)   // shrinks in place: no copy of the secret
        return bytes
    }

    /// The passphrase in `path`: its first line without the line end, as
    /// `openssl … -pass file:` reads it (so `pki.sh issue --passphrase-file` and the
    /// node agree). Empty is refused. The caller wipes the result.
    public static func readPassphrase(_ path: String) throws(CryptoError) -> [UInt8] {
        var bytes = try read(path, limit: maximumPassphraseFileSize, what: "passphrase file")
        if let newline = bytes.firstIndex(of: 0x0A) {
            bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress! + newline, $0.count - newline) }
            bytes.removeLast(bytes.count - newline)
        }
        if bytes.last == 0x0D { bytes[bytes.count - 1] = 0; bytes.removeLast() }
        guard !bytes.isEmpty else {
            throw .invalidKey("the passphrase file \(path) has an empty first line; put the passphrase on it")
        }
        return bytes
    }
}

/// Wipes a Swift array that held secret bytes (public for the callers of `SecretFile`).
public func wipeSecret(_ bytes: inout [UInt8]) { wipe(&bytes) }
