import Foundation

/// Whole reads and writes on a file descriptor: `read(2)` and `write(2)` may move fewer
/// bytes than asked (pipes, sockets, signals), and the attachment code needs exact chunks.
enum FileDescriptorIO {
    /// Fills `buffer` unless the input ends first; returns the bytes read (less than
    /// `buffer.count` only at the end of the input).
    static func fill(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(AttachmentError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = Foundation.read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot read the attachment: \(String(cString: strerror(errno)))")
            }
            filled += n
        }
        return filled
    }

    /// Writes all of `bytes`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(AttachmentError) {
        var written = 0
        while written < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("cannot write the attachment: \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }
}

extension FileHandle {
    /// A sink for ``AttachmentEncryptor`` and ``AttachmentDecryptor`` that writes every
    /// piece to this file in full.
    public var attachmentSink: (UnsafeRawBufferPointer) throws -> Void {
        let fd = fileDescriptor
        return { bytes throws in try FileDescriptorIO.writeAll(fd, bytes) }
    }
}
