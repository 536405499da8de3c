// The grammar pieces of HTTPRequestParser: lines, the request line, field lines, chunk sizes, and the head's rules.

extension HTTPRequestParser {
    /// The next CRLF-terminated line (without CRLF), or nil if it hasn't fully arrived.
    /// Throws `tooLong` once more than `limit` bytes are waiting without a line end, and refuses a bare LF.
    mutating func nextLine(limit: Int, tooLong: HTTPParseError) throws(HTTPParseError) -> ArraySlice<UInt8>? {
        let end = buffer.count
        var index = max(scanIndex, readIndex)
        while index < end && buffer[index] != UInt8(ascii: "\n") { index += 1 }
        guard index < end else {
            scanIndex = index
            if end - readIndex > limit + 1 { throw tooLong }  // +1: the CR may already be here
            return nil
        }
        guard index > readIndex, buffer[index - 1] == UInt8(ascii: "\r") else { throw .malformed("line ends in bare LF") }
        let line = buffer[readIndex..<index - 1]
        if line.count > limit { throw tooLong }
        readIndex = index + 1
        scanIndex = readIndex
        return line
    }

    mutating func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        // method SP target SP version, found by index (no array of parts: this runs for every request).
        let space = UInt8(ascii: " ")
        guard let firstSpace = line.firstIndex(of: space),
              let secondSpace = line[(firstSpace + 1)...].firstIndex(of: space) else { throw .malformed("bad request line") }
        let methodBytes = line[..<firstSpace], targetBytes = line[(firstSpace + 1)..<secondSpace]
        let version = line[(secondSpace + 1)...]
        guard !methodBytes.isEmpty, !targetBytes.isEmpty else { throw .malformed("bad request line") }
        guard methodBytes.allSatisfy(Self.isTokenByte) else { throw .malformed("bad method") }
        guard targetBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw .malformed("bad request target")
        }
        let v = version.startIndex
        guard version.count == 8, version[v] == UInt8(ascii: "H"), version[v + 1] == UInt8(ascii: "T"),
              version[v + 2] == UInt8(ascii: "T"), version[v + 3] == UInt8(ascii: "P"), version[v + 4] == UInt8(ascii: "/"),
              let major = Self.digit(version[v + 5]), version[v + 6] == UInt8(ascii: "."),
              let minor = Self.digit(version[v + 7])
        else { throw .malformed("bad HTTP version") }
        guard major == 1, minor <= 1 else { throw .unsupportedVersion("\(major).\(minor)") }
        method = String(decoding: methodBytes, as: UTF8.self)
        target = String(decoding: targetBytes, as: UTF8.self)
        minorVersion = minor
    }

    mutating func parseField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        guard let first = line.first else { throw .malformed("empty field line") }
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { throw .malformed("obsolete line folding") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .malformed("field line without colon") }
        let name = line[line.startIndex..<colon]
        // A space before the colon is a smuggling vector (RFC 9112 §5.1): refuse it.
        guard !name.isEmpty, name.allSatisfy(Self.isTokenByte) else { throw .malformed("bad field name") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value.removeFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value.removeLast() }
        guard value.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else { throw .malformed("bad field value") }
        guard fields.count < limits.maxHeaderCount else { throw .tooManyHeaders(limit: limits.maxHeaderCount) }
        fields.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
    }

    func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var size = 0
        var digits = 0
        var index = line.startIndex
        while index < line.endIndex, let value = PercentDecoding.hexValue(line[index]) {
            guard digits < 15 else { throw .malformed("chunk size too large") }
            size = size << 4 | Int(value)
            digits += 1
            index += 1
        }
        guard digits > 0 else { throw .malformed("bad chunk size") }
        // Whatever follows must be chunk extensions, which we ignore (after optional whitespace).
        while index < line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index += 1 }
        guard index == line.endIndex || line[index] == UInt8(ascii: ";") else { throw .malformed("bad chunk size") }
        guard line[index...].allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }) else { throw .malformed("bad chunk extension") }
        return size
    }

    /// Applies the body limit and yields what the framing allows right away.
    mutating func beginBody() throws(HTTPParseError) -> Event? {
        switch currentFraming {
        case .none, .contentLength(0):
            return finishRequest(trailers: HTTPHeaders())
        case .contentLength(let length):
            // Checked before a byte of the body is kept: never trust, never allocate, a claimed size.
            guard length <= maxBodySize else { throw .bodyTooLarge(limit: maxBodySize) }
            state = .fixedBody(remaining: length)
        case .chunked:
            state = .chunkSizeLine
        }
        return try step()
    }

    mutating func finishRequest(trailers: HTTPHeaders) -> Event {
        state = .requestLine
        fields = HTTPHeaders()
        sectionBytes = 0
        bodyReceived = 0
        maxBodySize = limits.maxBodySize
        return .end(trailers: trailers)
    }

    /// Turns the request line and fields into a head, applying RFC 9112's framing and connection rules.
    mutating func makeHead() throws(HTTPParseError) -> HTTPRequestHead {
        let headers = fields
        let hosts = headers.count(of: "Host")
        if minorVersion == 1 && hosts != 1 { throw .malformed(hosts == 0 ? "missing Host" : "multiple Host fields") }

        let framing = try Self.framing(headers, minorVersion: minorVersion)
        currentFraming = framing

        var expectsContinue = false
        if let expect = headers["Expect"] {
            guard expect.lowercased() == "100-continue" else { throw .unsupportedExpectation(expect) }
            expectsContinue = minorVersion == 1
        }

        // Most requests have no Connection field: no token list to build then.
        let connection = headers.contains("Connection") ? headers.tokens("Connection") : []
        let keepAlive = minorVersion == 1 ? !connection.contains("close") : connection.contains("keep-alive") && !connection.contains("close")

        let (path, segments, query) = try Self.splitTarget(target, method: method)
        return HTTPRequestHead(
            method: method, target: target, path: path, pathSegments: segments, queryItems: query,
            minorVersion: minorVersion, headers: headers, framing: framing, keepAlive: keepAlive,
            expectsContinue: expectsContinue)
    }

    static func framing(_ headers: HTTPHeaders, minorVersion: Int) throws(HTTPParseError) -> HTTPRequestHead.BodyFraming {
        let lengths = headers.contains("Content-Length") ? headers.values("Content-Length") : []
        if headers.contains("Transfer-Encoding") {
            let codings = headers.tokens("Transfer-Encoding")
            // Both framings at once is the classic request-smuggling shape (RFC 9112 §6.1): refuse it.
            guard lengths.isEmpty else { throw .malformed("both Content-Length and Transfer-Encoding") }
            guard minorVersion == 1 else { throw .malformed("Transfer-Encoding in HTTP/1.0") }
            guard codings.last == "chunked" else { throw .malformed("chunked is not the final transfer coding") }
            guard codings.count == 1 else {
                let other = codings.first { $0 != "chunked" } ?? "chunked"
                if other == "chunked" { throw .malformed("chunked applied twice") }
                throw .unsupportedTransferEncoding(other)
            }
            return .chunked
        }
        guard !lengths.isEmpty else { return .none }
        var length: Int?
        for member in lengths.flatMap({ $0.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) }) {
            let digits = trimOWS(Substring(member))
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw .malformed("bad Content-Length") }
            // Absurd sizes are refused as too large, not as malformed; Int overflow can't sneak through.
            let value = digits.utf8.count > 18 ? Int.max : Int(digits)!
            if let length, length != value { throw .malformed("conflicting Content-Length") }
            length = value
        }
        return .contentLength(length!)
    }

    /// Works on the target's bytes: every delimiter is ASCII, and splitting by Characters (grapheme breaking) was most
    /// of what parsing a request head cost.
    static func splitTarget(_ target: String, method: String) throws(HTTPParseError) -> (String, [String], [(name: String, value: String)]) {
        var rest = Substring(target)
        if rest == "*" {
            guard method == "OPTIONS" else { throw .malformed("bad request target") }
            return ("*", [], [])
        }
        if rest.utf8.first != UInt8(ascii: "/") {
            // Absolute form (RFC 9112 §3.2.2): drop the scheme and authority.
            let lower = rest.prefix(8).lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else { throw .malformed("bad request target") }
            rest = rest.dropFirst(lower.hasPrefix("http://") ? 7 : 8)
            rest = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        let rawPath: Substring
        var query: [(name: String, value: String)] = []
        if let mark = rest.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = rest[..<mark]
            for bytes in rest[rest.utf8.index(after: mark)...].utf8.split(separator: UInt8(ascii: "&")) {
                let pair = Substring(bytes)
                let equals = pair.utf8.firstIndex(of: UInt8(ascii: "="))
                let rawName = equals.map { pair[..<$0] } ?? pair
                let rawValue = equals.map { pair[pair.utf8.index(after: $0)...] } ?? ""
                guard let name = PercentDecoding.decode(rawName, plusIsSpace: true),
                      let value = PercentDecoding.decode(rawValue, plusIsSpace: true)
                else { throw .malformed("bad percent-encoding in query") }
                query.append((name, value))
            }
        } else {
            rawPath = rest
        }
        guard let path = PercentDecoding.decode(rawPath) else { throw .malformed("bad percent-encoding in path") }
        // Segments between slashes, empty ones skipped, found by scanning the bytes (split's array of slices cost more
        // than the segments themselves, which mostly fit small strings).
        var segments: [String] = []
        segments.reserveCapacity(8)
        let bytes = rawPath.utf8
        var start = bytes.startIndex, index = start
        while true {
            let atEnd = index == bytes.endIndex
            if atEnd || bytes[index] == UInt8(ascii: "/") {
                if start != index {
                    guard let segment = PercentDecoding.decode(rawPath[start..<index]) else {
                        throw .malformed("bad percent-encoding in path")
                    }
                    segments.append(segment)
                }
                if atEnd { break }
                index = bytes.index(after: index)
                start = index
            } else {
                index = bytes.index(after: index)
            }
        }
        return (path, segments, query)
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    static func digit(_ byte: UInt8) -> Int? {
        byte >= 0x30 && byte <= 0x39 ? Int(byte - 0x30) : nil
    }
}
