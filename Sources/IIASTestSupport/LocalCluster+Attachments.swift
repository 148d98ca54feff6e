import Foundation

extension LocalCluster {
    /// Sends `file` from `sender` to `recipients` with `iias send --attach`, run as a
    /// process of its own so that `sampler` can watch its memory (as "sender CLI") while
    /// it streams the file; returns once the notification is logged, with its id. Throws
    /// with the CLI's output when it fails or takes over `timeout` seconds.
    public func sendAttachment(_ file: String, from sender: String, to recipients: [String], sampler: MemorySampler? = nil,
                               timeout: TimeInterval = 600) async throws -> UUID {
        let process = Process(), output = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["send", "--to", recipients.joined(separator: ","), "--category", "terrorism", "--subject", "Large file",
                             "--summary", "See the attachment.", "--attach", file, "--json", "--socket", socketPath(sender)]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        sampler?.watch(process.processIdentifier, as: "sender CLI")
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        guard process.terminationStatus == 0, let id = (object?["id"] as? String).flatMap(UUID.init(uuidString:)) else {
            throw TestFailure("iias send --attach ended with \(process.terminationStatus): \(text.prefix(2000))")
        }
        return id
    }
}
