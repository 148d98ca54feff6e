import Foundation

/// The `--name value` options and bare `--flag`s of the harness and benchmark tools, read
/// once: anything not declared prints the usage line and exits 2, so a typo in a long
/// benchmark run fails at once instead of measuring the wrong thing.
public struct ToolOptions: Sendable {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private let tool: String

    public init(_ arguments: [String] = Array(CommandLine.arguments.dropFirst()), valued: Set<String>, flags known: Set<String> = [],
                usage: String) {
        tool = usage.split(separator: " ").first.map(String.init) ?? "tool"
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            if valued.contains(argument), let value = rest.popFirst() {
                values[argument] = value
            } else if known.contains(argument) {
                flags.insert(argument)
            } else {
                Self.exit("usage: \(usage)")
            }
        }
    }

    public subscript(_ name: String) -> String? { values[name] }

    /// A required option: its absence exits 2 naming it and `what` it is.
    public func required(_ name: String, _ what: String) -> String {
        guard let value = values[name] else { Self.exit("\(tool): \(name) \(what) is required") }
        return value
    }

    /// A whole number, or `fallback` when absent; anything else exits 2.
    public func int(_ name: String, default fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else { Self.exit("\(tool): \(name) takes a whole number, not \(text)") }
        return value
    }

    /// A number, or `fallback` when absent; anything else exits 2.
    public func double(_ name: String, default fallback: Double) -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text) else { Self.exit("\(tool): \(name) takes a number, not \(text)") }
        return value
    }

    /// One of `choices`, or `fallback` when absent; anything else exits 2 naming them.
    public func choice(_ name: String, among choices: [String], default fallback: String) -> String {
        guard let value = values[name] else { return fallback }
        guard choices.contains(value) else { Self.exit("\(tool): \(name) takes one of \(choices.joined(separator: ", ")), not \(value)") }
        return value
    }

    public func has(_ flag: String) -> Bool { flags.contains(flag) }

    private static func exit(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(2)
    }
}
