import Foundation
import XCTest
@testable import HTTPServer

/// `JSONString.quote` returns text that needs no escape as it is, in quotes; it must quote everything exactly as the
/// scalar-by-scalar escaper does, and produce JSON that reads back as the text.
final class JSONStringTests: XCTestCase {
    /// The escaper as it was, scalar by scalar.
    private static func reference(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    func testQuotesAsTheScalarEscaperDid() throws {
        let samples = ["", "plain", "/v1/models/{name}/classify", "0.734", "é ü 中文 🙂", "a\"b", "back\\slash", "line\nbreak",
                       "tab\there", "\r", "\u{1}\u{1f}\u{7f}", "\u{85}\u{2028}", "mixed 🙂 \"quote\" \\ \u{0}"]
        for text in samples {
            let quoted = JSONString.quote(text)
            XCTAssertEqual(quoted, Self.reference(text), text)
            let decoded = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: .fragmentsAllowed) as? String
            XCTAssertEqual(decoded, text)
        }
    }
}
