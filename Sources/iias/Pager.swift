import Foundation

/// Long listings go through the operator's pager on a terminal, as git does: `$PAGER`,
/// else `less` with `LESS=FRX` (quit when it fits one screen, keep colours, leave the
/// text on screen). Never when standard output is not a terminal, nor for `--json`:
/// a script reading the output must get every byte, at once. `PAGER=cat` or an empty
/// `PAGER` turns it off.
///
/// Standard output itself is handed to the pager until `finish`, so the code that prints
/// a table stays as it is: `let pager = Pager.start(json: json); defer { pager?.finish() }`.
final class Pager {
    private let process: Process
    private let input: Pipe
    private let terminal: Int32
    private let previousSIGPIPE: sighandler_t?

    /// Starts the pager and sends standard output to it, or returns nil when none applies.
    static func start(json: Bool) -> Pager? {
        guard !json, Terminal.stdoutIsTTY, let command = command(ProcessInfo.processInfo.environment) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        if environment["LESS"] == nil { environment["LESS"] = "FRX" }
        process.environment = environment
        let input = Pipe()
        process.standardInput = input
        do { try process.run() } catch { return nil }
        return Pager(process: process, input: input)
    }

    /// The pager already holds the terminal as its output; ours goes into its input until
    /// `finish`. An operator who quits early must not kill us with SIGPIPE.
    private init(process: Process, input: Pipe) {
        (self.process, self.input) = (process, input)
        fflush(nil)
        terminal = dup(STDOUT_FILENO)
        previousSIGPIPE = signal(SIGPIPE, SIG_IGN)
        dup2(input.fileHandleForWriting.fileDescriptor, STDOUT_FILENO)
    }

    /// Gives standard output back and waits for the operator to leave the pager.
    func finish() {
        fflush(nil)
        dup2(terminal, STDOUT_FILENO)
        close(terminal)
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        signal(SIGPIPE, previousSIGPIPE)
    }

    /// The pager to run, or nil for none.
    static func command(_ environment: [String: String]) -> String? {
        if let pager = environment["PAGER"]?.trimmingCharacters(in: .whitespaces) {
            return pager.isEmpty || pager == "cat" ? nil : pager
        }
        return FileManager.default.isExecutableFile(atPath: "/usr/bin/less") ? "less" : nil
    }
}
