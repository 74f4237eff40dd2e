/// JSON string literals, written as JSONEncoder writes them: quotes, backslashes and control
/// characters escaped (RFC 8259 section 7), the short forms where JSON has one; everything else,
/// `/` and non-ASCII included, as it is. For the order body, the journal's evidence and the
/// inventory summaries, which are written by hand.
public enum JSONString {
    /// `text` as a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> String {
        var json = ""
        append(text, to: &json)
        return json
    }

    /// Appends `text` to `json` as a JSON string literal, quotes included.
    public static func append(_ text: String, to json: inout String) {
        json.append("\"")
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case "\u{08}": json += "\\b"
            case "\u{0C}": json += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.utf8.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json.append("\"")
    }
}
