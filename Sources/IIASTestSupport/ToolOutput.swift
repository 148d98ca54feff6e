import Foundation

/// Output of the harness and benchmark tools. They start node processes and must live to
/// stop them: when their output pipe closes (`iias-node-bench … | head`), a write fails
/// quietly here instead of killing the tool (SIGPIPE) or trapping (`FileHandle.write`
/// traps on EPIPE), which would leave the nodes running.
public enum ToolOutput {
    /// Makes a write to a closed pipe fail instead of killing the process; `LocalCluster` calls it.
    public static func ignoreClosedPipes() { signal(SIGPIPE, SIG_IGN) }

    /// Writes `text` as is (no newline added) to `handle`, at once; a failure is dropped.
    public static func write(_ text: String, to handle: FileHandle = .standardOutput) {
        try? handle.write(contentsOf: Data(text.utf8))
    }

    /// One line on `handle`.
    public static func line(_ text: String, to handle: FileHandle = .standardOutput) { write(text + "\n", to: handle) }
}
