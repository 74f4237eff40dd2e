/// Text for a person's terminal. Colt's words and an operator's columns can hold anything: an
/// ESC sequence that clears the screen, a newline that forges a `CRITICAL` line, a U+202E that
/// shows text backwards. Everything the commands print for people goes through ``safe(_:)``.
enum TerminalText {
    /// `text` with control characters (C0, DEL, C1), bidirectional controls (U+061C, U+200E,
    /// U+200F, U+202A to U+202E, U+2066 to U+2069) and invisible format characters (U+200B to
    /// U+200D, U+2060, U+FEFF) written as `\u{…}`, and a backslash as `\\`; other text unchanged.
    static func safe(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar == "\\" {
                out += "\\\\"
            } else if needsEscape(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: true
        case 0x061C, 0x200B...0x200F, 0x202A...0x202E, 0x2060, 0x2066...0x2069, 0xFEFF: true
        default: false
        }
    }
}
