import Foundation

/// Long listings go through the operator's pager on a terminal, as git does: `$PAGER`,
/// else `less` with `LESS=FRX` (quit when it fits one screen, keep colours, leave the
/// text on screen). Never when standard output is not a terminal, nor for `--json`:
/// a script reading the output must get every byte, at once. `PAGER=cat` or an empty
/// `PAGER` turns it off.
enum Pager {
    /// Runs `body` with standard output going to the pager when one applies.
    static func page(json: Bool, _ body: () throws -> Void) rethrows {
        guard !json, Terminal.stdoutIsTTY, let command = command(ProcessInfo.processInfo.environment) else { return try body() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        if environment["LESS"] == nil { environment["LESS"] = "FRX" }
        process.environment = environment
        let pipe = Pipe()
        process.standardInput = pipe
        do { try process.run() } catch { return try body() }
        // The pager already holds the terminal as its output; ours goes into its input
        // until the body is done. An operator who quits early must not kill us with SIGPIPE.
        fflush(nil)
        let terminal = dup(STDOUT_FILENO)
        let previous = signal(SIGPIPE, SIG_IGN)
        dup2(pipe.fileHandleForWriting.fileDescriptor, STDOUT_FILENO)
        defer {
            fflush(nil)
            dup2(terminal, STDOUT_FILENO)
            close(terminal)
            try? pipe.fileHandleForWriting.close()
            process.waitUntilExit()
            signal(SIGPIPE, previous)
        }
        try body()
    }

    /// The pager to run, or nil for none.
    static func command(_ environment: [String: String]) -> String? {
        if let pager = environment["PAGER"]?.trimmingCharacters(in: .whitespaces) {
            return pager.isEmpty || pager == "cat" ? nil : pager
        }
        return FileManager.default.isExecutableFile(atPath: "/usr/bin/less") ? "less" : nil
    }
}
