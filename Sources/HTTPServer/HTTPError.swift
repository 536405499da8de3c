/// An error a handler throws to answer with a status and a JSON body `{"error": message}`.
public struct HTTPError: Error, Sendable, Equatable {
    public var status: HTTPStatus
    public var message: String
    public var headers: HTTPHeaders

    public init(_ status: HTTPStatus, _ message: String, headers: HTTPHeaders = HTTPHeaders()) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    public var response: HTTPResponse {
        var response = HTTPResponse.json(status, "{\"error\":\(JSONString.quote(message))}")
        for (name, value) in headers { response.headers.add(name: name, value: value) }
        return response
    }
}

/// The little JSON the server writes itself (error bodies, log lines), without Foundation's encoder.
enum JSONString {
    static func quote(_ text: String) -> String {
        var out: [UInt8] = []
        append(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a JSON string literal, in UTF-8: what the JSON log lines are built of (the access log quotes
    /// ~10 strings per request; appending them to a `String` was ~8 % of a trivial request's CPU with it on). Most text
    /// needs no escape: one scan of its bytes and one append. Bytes decide exactly: every byte of a multi-byte UTF-8
    /// scalar is ≥ 0x80, so only ASCII can need an escape.
    static func append(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                out.append(contentsOf: bytes)
                return
            }
            let hex = Array("0123456789abcdef".utf8)
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
                case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
                case UInt8(ascii: "\n"): out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
                case UInt8(ascii: "\r"): out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
                case UInt8(ascii: "\t"): out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
                case 0..<0x20: out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
                default: out.append(byte)   // every byte of a multi-byte scalar is ≥ 0x80: copied as it is
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
