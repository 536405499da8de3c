/// Serialises a status line and header section, adding the fields the connection owns (Date, framing, Connection).
enum ResponseHead {
    enum Framing { case contentLength(Int), chunked, untilClose }

    static func encode(status: HTTPStatus, headers: HTTPHeaders, framing: Framing, keepAlive: Bool, minorVersion: Int) -> [UInt8] {
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        for (name, value) in headers {
            if HTTPHeaders.namesEqual(name, "Content-Length") || HTTPHeaders.namesEqual(name, "Transfer-Encoding")
                || HTTPHeaders.namesEqual(name, "Connection") || HTTPHeaders.namesEqual(name, "Date") { continue }
            text += "\(name): \(value)\r\n"
        }
        text += "Date: \(HTTPDate.now)\r\n"
        switch framing {
        case .contentLength(let length): if !status.forbidsBody { text += "Content-Length: \(length)\r\n" }
        case .chunked: text += "Transfer-Encoding: chunked\r\n"
        case .untilClose: break
        }
        if !keepAlive { text += "Connection: close\r\n" } else if minorVersion == 0 { text += "Connection: keep-alive\r\n" }
        text += "\r\n"
        return Array(text.utf8)
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
