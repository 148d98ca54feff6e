import Foundation
import Synchronization

/// A long-running child (a node, the fault proxy) that a test talks to line by line and
/// that is always killed when the test lets go of it, so no test leaves a process behind.
public final class RunningProcess: @unchecked Sendable {
    public let process = Process()
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private let lock = NSCondition()
    private var lines: [String] = []
    private var partial = Data()
    private var errorText = Data()
    private var ended = false

    /// Starts `executable`; standard output is split into lines for `nextLine`, standard
    /// error is kept for `errorOutput` (bounded to the last 1 MiB).
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in self?.received(handle.availableData) }
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            guard let self else { return }
            let data = handle.availableData
            self.lock.lock()
            self.errorText.append(data)
            if self.errorText.count > 1 << 20 { self.errorText.removeFirst(self.errorText.count - (1 << 20)) }
            self.lock.unlock()
        }
        _ = Self.stopChildrenOnTermination
        try process.run()
        let pid = process.processIdentifier
        let ending = Self.live.withLock { live in
            live.pids.insert(pid)
            return live.ending
        }
        if ending { Foundation.kill(pid, SIGKILL) }   // started while the termination handler ran
    }

    /// The children started and not yet reaped, for the termination handler; `ending` once
    /// it ran, so that a child started after it is killed too.
    private static let live = Mutex<(pids: Set<Int32>, ending: Bool)>(([], false))

    /// SIGINT, SIGTERM or SIGHUP to whoever started children (a harness stopped by hand or
    /// by a test's timeout) kills them first, then ends with 128 + the signal's number: no
    /// node outlives its harness. Installed once, with the first child; the sources are
    /// kept here (a released source stops) and never touched after.
    nonisolated(unsafe) private static let stopChildrenOnTermination: [any DispatchSourceSignal] = {
        [SIGINT, SIGTERM, SIGHUP].map { number in
            // Not ignored first: on Linux the source installs a handler of its own, and an
            // ignored signal would be inherited by a child started before it did.
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let pids = live.withLock { live in
                    live.ending = true
                    return live.pids
                }
                for pid in pids { Foundation.kill(pid, SIGKILL) }
                // At once, before the rest of the process sees its children gone, and with
                // the status a shell gives a process that a signal ended (143 for SIGTERM).
                // Not by raising the signal again: a process started by one whose threads
                // block signals may have it blocked too.
                _exit(128 + number)
            }
            source.resume()
            return source
        }
    }()

    private func reaped() { Self.live.withLock { _ = $0.pids.remove(process.processIdentifier) } }

    private func received(_ data: Data) {
        lock.lock()
        defer { lock.broadcast(); lock.unlock() }
        if data.isEmpty { ended = true; return }
        partial.append(data)
        while let newline = partial.firstIndex(of: 0x0A) {
            lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
            partial.removeSubrange(partial.startIndex...newline)
        }
    }

    /// The next line of standard output, waiting at most `timeout`; throws if the process
    /// ended or the time ran out (saying which, with its standard error).
    public func nextLine(timeout: TimeInterval = 30) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        lock.lock()
        defer { lock.unlock() }
        while lines.isEmpty {
            if ended { throw TestFailure("process ended without the expected line; stderr: \(String(decoding: errorText.suffix(2000), as: UTF8.self))") }
            if !lock.wait(until: deadline) { throw TestFailure("no line from the process within \(Int(timeout)) s") }
        }
        return lines.removeFirst()
    }

    /// Writes one line to the process's standard input.
    public func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    /// Sends a command and returns the answer line.
    public func command(_ line: String, timeout: TimeInterval = 30) throws -> String {
        send(line)
        return try nextLine(timeout: timeout)
    }

    public var errorOutput: String { lock.lock(); defer { lock.unlock() }; return String(decoding: errorText, as: UTF8.self) }

    /// SIGKILL (or another signal) and wait for the exit; a process that has not exited
    /// `grace` seconds after another signal is killed, so no test waits forever.
    public func kill(_ signal: Int32 = SIGKILL, grace: TimeInterval = 30) {
        if process.isRunning { Foundation.kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning {
            FileHandle.standardError.write(Data("process \(process.processIdentifier) ignored signal \(signal) for \(Int(grace)) s; killing it\n".utf8))
            Foundation.kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        reaped()
    }

    deinit {
        output.fileHandleForReading.readabilityHandler = nil
        errors.fileHandleForReading.readabilityHandler = nil
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        reaped()
    }
}
