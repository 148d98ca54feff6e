import Foundation
import IIASModel
import IIASAPI

/// Output that adapts to where it goes: colour and tables on a terminal, plain text
/// in pipes, JSON on request. Honours NO_COLOR (https://no-color.org).
enum Terminal {
    static let stdoutIsTTY = isatty(STDOUT_FILENO) == 1
    static let stderrIsTTY = isatty(STDERR_FILENO) == 1
    static let colour = stdoutIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        && ProcessInfo.processInfo.environment["TERM"] != "dumb"

    static func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    static func red(_ s: String) -> String { colour ? "\u{1B}[31m\(s)\u{1B}[0m" : s }
    static func green(_ s: String) -> String { colour ? "\u{1B}[32m\(s)\u{1B}[0m" : s }
    static func yellow(_ s: String) -> String { colour ? "\u{1B}[33m\(s)\u{1B}[0m" : s }
    static func dim(_ s: String) -> String { colour ? "\u{1B}[2m\(s)\u{1B}[0m" : s }

    static func error(_ message: String, hint: String? = nil) {
        let useColour = stderrIsTTY && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
        var text = (useColour ? "\u{1B}[31merror:\u{1B}[0m " : "error: ") + message + "\n"
        if let hint { text += "  hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Pretty, key-sorted JSON for scripts: stable across runs.
    static func printJSON(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        FileHandle.standardOutput.write(data)
        FileHandle.standardOutput.write(Data("\n".utf8))
    }

    /// Two aligned columns of label and value. With `width`, a value that would run past
    /// it continues on the next lines, word-wrapped under the values.
    static func printFields(_ rows: [(String, String)], width: Int? = nil) {
        let labels = rows.map(\.0.count).max() ?? 0
        for (label, value) in rows {
            let pieces = width.map { wrap(value, indent: 0, width: $0 - labels - 2) } ?? [value]
            print(dim(label.padding(toLength: labels, withPad: " ", startingAt: 0)) + "  " + (pieces.first ?? ""))
            for piece in pieces.dropFirst() { print(String(repeating: " ", count: labels + 2) + piece) }
        }
    }

    /// Columns aligned to their widest cell (cells may carry colour; widths ignore it).
    /// With `width`, a last cell that holds line breaks continues on the next lines under
    /// its column, and one that would run past `width` is word-wrapped there (a single word
    /// longer than the room stays whole).
    static func printTable(_ headers: [String], _ rows: [[String]], width: Int? = nil) {
        func visible(_ cell: String) -> Int {
            var count = 0, inEscape = false
            for scalar in cell.unicodeScalars {
                if scalar == "\u{1B}" { inEscape = true } else if inEscape { if scalar == "m" { inEscape = false } } else { count += 1 }
            }
            return count
        }
        var widths = headers.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], visible(cell)) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[i] - visible(cell)))
            }.joined(separator: "  ")
        }
        print(dim(line(headers)))
        let start = widths.dropLast().reduce(0) { $0 + $1 + 2 }
        for row in rows {
            guard let width, let last = row.last, row.count == widths.count, width - start >= 12,
                  start + visible(last) > width || last.contains("\n") else {
                print(line(row))
                continue
            }
            // A cell's own lines stay whole (an identifier is not split); one long line wraps.
            let pieces = last.contains("\n") ? last.split(separator: "\n").map(String.init) : wrap(last, indent: 0, width: width - start)
            print(line(Array(row.dropLast()) + [pieces.first ?? ""]))
            for piece in pieces.dropFirst() { print(String(repeating: " ", count: start) + piece) }
        }
    }

    /// Encodes a value as the local API does (sorted keys, RFC 3339 times) and prints it.
    static func printEncodable(_ value: some Encodable) {
        let encoder = APIJSON.encoder()
        encoder.outputFormatting.insert(.prettyPrinted)
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// The width text is wrapped to: $COLUMNS (what shells export and tests set), else
    /// the terminal's, else 100.
    static var width: Int {
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns >= 20 { return columns }
        var size = winsize()
        if stdoutIsTTY, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 20 { return Int(size.ws_col) }
        return 100
    }

    /// `text`'s lines, each indented and word-wrapped to `width` (a word longer than a
    /// line is left whole); the text's own line breaks are kept.
    static func wrap(_ text: String, indent: Int, width: Int = Terminal.width) -> [String] {
        let pad = String(repeating: " ", count: indent), room = max(10, width - indent)
        var out: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = ""
            for word in paragraph.split(separator: " ") {
                if !line.isEmpty, line.count + 1 + word.count > room {
                    out.append(pad + line)
                    line = ""
                }
                line += (line.isEmpty ? "" : " ") + word
            }
            out.append(line.isEmpty ? "" : pad + line)
        }
        return out
    }

    /// Strips control characters (terminal escapes) from text that came from elsewhere.
    static func safe(_ text: String) -> String { ShownText.safe(text) }
}
