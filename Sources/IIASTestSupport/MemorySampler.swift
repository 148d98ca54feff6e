import Foundation
import Synchronization

/// The resident memory of running processes, read from /proc/PID/status: what a test or
/// a bench checks when a transfer must not grow with the file it carries. Sampling
/// `VmRSS` on a thread of its own finds the peak of a process that is still running;
/// `VmHWM` (the kernel's own peak) catches a spike between two samples.
public final class MemorySampler: Sendable {
    /// One process's figures, in bytes.
    public struct Peak: Sendable {
        /// The largest `VmRSS` sampled.
        public var sampled: Int
        /// `VmHWM` at the last sample: the kernel's peak since the process started.
        public var highWater: Int
    }

    private let watched = Mutex<[String: (pid: Int32, peak: Peak)]>([:])
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)

    /// Samples every `interval` seconds until `stop()`.
    public init(interval: TimeInterval = 0.02) {
        let thread = Thread { [self] in
            while running.load(ordering: .relaxed) {
                sampleOnce()
                Thread.sleep(forTimeInterval: interval)
            }
            sampleOnce()
            finished.signal()
        }
        thread.start()
    }

    /// Samples `pid` from now on under `name` (a node's center, "sender CLI").
    public func watch(_ pid: Int32, as name: String) {
        let now = Self.status(of: pid)
        watched.withLock { $0[name] = (pid, Peak(sampled: now?.resident ?? 0, highWater: now?.highWater ?? 0)) }
    }

    /// The peaks so far, by name.
    public var peaks: [String: Peak] { watched.withLock { $0.mapValues(\.peak) } }

    /// Ends the sampling (after one last sample) and returns the peaks.
    public func stop() -> [String: Peak] {
        if running.exchange(false, ordering: .relaxed) { finished.wait() }
        return peaks
    }

    private func sampleOnce() {
        let list = watched.withLock { $0.map { ($0.key, $0.value.pid) } }
        for (name, pid) in list {
            guard let now = Self.status(of: pid) else { continue }   // ended: its last sample stands
            watched.withLock { all in
                guard var entry = all[name], entry.pid == pid else { return }
                entry.peak.sampled = max(entry.peak.sampled, now.resident)
                entry.peak.highWater = max(entry.peak.highWater, now.highWater)
                all[name] = entry
            }
        }
    }

    /// `VmRSS` and `VmHWM` of `pid` in bytes; nil when the process is gone.
    public static func status(of pid: Int32) -> (resident: Int, highWater: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return nil }
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
        }
        guard let resident = field("VmRSS"), let highWater = field("VmHWM") else { return nil }
        return (resident, highWater)
    }
}
