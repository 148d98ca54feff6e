import Foundation
import IIASCrypto
import Synchronization

/// One file an operator streams to the node, encrypted as it arrives: the pieces the
/// local API receives go into a pipe, and a thread of the upload's own reads the pipe
/// through ``AttachmentEncryptor`` into a ciphertext file. So the plaintext never reaches
/// the disk and never sits whole in memory; the file key and seal stay in the node until
/// a draft names the upload.
final class AttachmentUpload: Sendable {
    let id: UUID
    /// The size the operator announced; the upload is complete when this many bytes came.
    let expectedBytes: Int
    private let writeEnd: Int32
    private let state = Mutex<(received: Int, closed: Bool)>((0, false))
    private let outcome = Mutex<Result<Finished, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// The encrypted file: where it lies, its seal and its chunk hashes.
    struct Finished: Sendable {
        var seal: AttachmentSeal
        var ciphertext: String
        var chunkHashes: [UInt8]
    }

    /// Starts the encrypting thread; the ciphertext goes to `ciphertextPath`.
    init(id: UUID, expectedBytes: Int, ciphertextPath: String) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        self.id = id
        self.expectedBytes = expectedBytes
        writeEnd = fds[1]
        let readEnd = fds[0]
        let thread = Thread { [self] in
            let result = Result { try Self.encrypt(readEnd: readEnd, to: ciphertextPath) }
            close(readEnd)
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.name = "iias-attachment-upload"
        thread.start()
    }

    private static func encrypt(readEnd: Int32, to path: String) throws -> Finished {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var offset = 0
        var hashes: [UInt8] = []
        let input = FileHandle(fileDescriptor: readEnd, closeOnDealloc: false)
        let seal = try AttachmentEncryptor().encrypt(reading: input) { piece in
            if offset > 0 { hashes += AttachmentSeal.chunkHash(piece) }
            try AttachmentDirectory.writeAll(fd, piece, at: offset)
            offset += piece.count
        }
        guard fsync(fd) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return Finished(seal: seal, ciphertext: path, chunkHashes: hashes)
    }

    /// Bytes received so far.
    var received: Int { state.withLock { $0.received } }

    /// Appends the next piece; `offset` must equal the bytes received so far (a piece
    /// sent twice or out of order is refused, not guessed at). Blocks only while the
    /// encrypting thread drains the pipe.
    func append(_ piece: [UInt8], at offset: Int) throws(UploadProblem) {
        let accepted: Bool = state.withLock { state in
            guard !state.closed, offset == state.received, state.received + piece.count <= expectedBytes else { return false }
            state.received += piece.count
            return true
        }
        guard accepted else { throw UploadProblem("a piece at offset \(offset) of \(piece.count) bytes does not follow the \(received) bytes received (of \(expectedBytes))") }
        var done = 0
        while done < piece.count {
            let n = piece.withUnsafeBytes { write(writeEnd, $0.baseAddress! + done, piece.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw UploadProblem("the encryption stopped: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Ends the input and waits for the encryption; refuses when fewer bytes came than announced.
    func finish() throws -> Finished {
        let complete = state.withLock { state -> Bool in
            if !state.closed { state.closed = true; close(writeEnd) }
            return state.received == expectedBytes
        }
        done.wait()
        done.signal()
        let result = outcome.withLock { $0 }!
        let finished = try result.get()
        guard complete else {
            unlink(finished.ciphertext)
            throw UploadProblem("the upload ended after \(received) of its \(expectedBytes) bytes")
        }
        return finished
    }

    /// Stops the upload and removes its partial ciphertext.
    func abandon(removing path: String) {
        _ = try? finish()
        unlink(path)
    }
}

/// Why an upload piece or its end was refused (HTTP 409 with the text).
struct UploadProblem: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
