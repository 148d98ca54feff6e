import Foundation

/// Reads small files (keys, certificates, CRLs, envelopes) with the size checked before
/// anything is allocated, so a wrong path pointing at a huge file fails fast.
enum FileBytes {
    static func read(_ path: String, limit: Int, what: String) throws(CryptoError) -> [UInt8] {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        } catch {
            throw .io("cannot read \(what) \(path): \(Self.reason(error))")
        }
        defer { try? handle.close() }
        do {
            let size = try handle.seekToEnd()
            guard size <= UInt64(limit) else {
                throw CryptoError.io("\(what) \(path) is \(size) bytes; the limit is \(limit)")
            }
            try handle.seek(toOffset: 0)
            return [UInt8](try handle.readToEnd() ?? Data())
        } catch let error as CryptoError {
            throw error
        } catch {
            throw .io("cannot read \(what) \(path): \(Self.reason(error))")
        }
    }

    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let posix = (ns.userInfo[NSUnderlyingErrorKey] as? NSError), posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError || ns.code == 4 {
            return "no such file"
        }
        return ns.localizedDescription
    }
}
