/// Makes text safe for one line of the text log format. A request's decoded path or header is the client's text: a
/// raw CR LF in it would forge whole log lines, an ESC would drive the terminal showing the log.
enum LogText {
    /// The text with control characters escaped (`\n`, `\r`, `\t`, else `\u{1b}`), and backslashes doubled so an
    /// escape in the log always came from us.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where isControl(scalar): out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A `key=value` field's value: escaped, and in double quotes when it is empty or holds a space, quote or `=`, so
    /// a value can't pass for more fields.
    static func field(_ text: String) -> String {
        let escaped = escaped(text)
        guard escaped.isEmpty || escaped.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else {
            return escaped
        }
        return "\"" + escaped.replacing("\"", with: "\\\"") + "\""
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool { scalar == "\\" || isControl(scalar) }

    /// C0, DEL and C1: C1 too, since a terminal reads U+009B as the start of an escape sequence.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
