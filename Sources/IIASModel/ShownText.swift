/// Text that came from elsewhere (a peer, a log, a file), made safe to show: what a
/// terminal would obey rather than print is dropped or spelled out. One rule for the CLI
/// and for the libraries whose messages it prints, so an auditor's report reads the same
/// whichever wrote it.
public enum ShownText {
    /// Strips control characters (terminal escapes); keeps newlines and tabs.
    public static func safe(_ text: String) -> String {
        var shown = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\t" || (scalar.value >= 0x20 && scalar.value != 0x7F && !(0x80..<0xA0).contains(scalar.value)) {
                if isReordering(scalar) {
                    // Shown, not obeyed: a bidi override or an invisible character could make
                    // a line read other than it is (CVE-2021-42574, "Trojan Source").
                    shown.append(contentsOf: "<U+\(String(scalar.value, radix: 16, uppercase: true))>".unicodeScalars)
                } else {
                    shown.append(scalar)
                }
            }
        }
        return String(shown)
    }

    /// Bidi embeddings, overrides, isolates and marks, and zero-width characters that
    /// are not needed to join letters (ZWJ and ZWNJ are kept: Persian and Indic scripts use them).
    public static func isReordering(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x200B, 0x200E, 0x200F, 0x061C, 0x202A...0x202E, 0x2060...0x2064, 0x2066...0x2069, 0xFEFF: true
        default: false
        }
    }
}
