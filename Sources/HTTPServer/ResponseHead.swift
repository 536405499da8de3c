/// Serialises a status line and header section, adding the fields the connection owns (Date, framing, Connection).
enum ResponseHead {
    enum Framing { case contentLength(Int), chunked, untilClose }

    /// `requestID`, when given, is written as X-Request-Id in place of any the handler set (passed apart rather than
    /// replaced in `headers`, which would copy a handler's shared, constant header list on every answer).
    static func encode(status: HTTPStatus, headers: HTTPHeaders, framing: Framing, keepAlive: Bool, minorVersion: Int,
                       requestID: String? = nil) -> [UInt8] {
        // Bytes appended in place (a String grown by interpolation reallocated and re-validated its UTF-8 several
        // times per answer, a tenth of the server's own CPU on its cheapest route).
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(status.code, to: &out)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: status.reasonPhrase.utf8)
        out.append(contentsOf: crlf)
        for (name, value) in headers {
            if HTTPHeaders.namesEqual(name, "Content-Length") || HTTPHeaders.namesEqual(name, "Transfer-Encoding")
                || HTTPHeaders.namesEqual(name, "Connection") || HTTPHeaders.namesEqual(name, "Date")
                || requestID != nil && HTTPHeaders.namesEqual(name, "X-Request-Id") { continue }
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: crlf)
        }
        if let requestID {
            out.append(contentsOf: "X-Request-Id: ".utf8)
            out.append(contentsOf: requestID.utf8)
            out.append(contentsOf: crlf)
        }
        out.append(contentsOf: "Date: ".utf8)
        out.append(contentsOf: HTTPDate.now.utf8)
        out.append(contentsOf: crlf)
        switch framing {
        case .contentLength(let length):
            if !status.forbidsBody {
                out.append(contentsOf: "Content-Length: ".utf8)
                appendDecimal(length, to: &out)
                out.append(contentsOf: crlf)
            }
        case .chunked: out.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8)
        case .untilClose: break
        }
        if !keepAlive {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if minorVersion == 0 {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        out.append(contentsOf: crlf)
        return out
    }

    private static let crlf: [UInt8] = [13, 10]

    /// `value` in decimal digits (a status code or a body's length; never traps, whatever the value).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)   // 24 bytes: UInt.max has 20 digits
        var count = 0, rest = value.magnitude
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[buffer.count - 1 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            out.append(contentsOf: buffer[(buffer.count - count)...])
        }
    }

    /// One chunk of a chunked body: size in hex, CRLF, data, CRLF.
    static func chunk(_ bytes: [UInt8]) -> [UInt8] {
        var out = Array(String(bytes.count, radix: 16).utf8)
        out.reserveCapacity(out.count + bytes.count + 4)
        out += [13, 10]
        out += bytes
        out += [13, 10]
        return out
    }

    static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
}
