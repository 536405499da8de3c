/// A `multipart/form-data` body (RFC 7578) split into its parts. The body is already whole and within the route's
/// size limit when this runs, so parsing only slices it; every malformation is a `MultipartError` with a reason.
public struct MultipartFormData: Sendable {
    public struct Part: Sendable {
        /// The part's own header fields (`Content-Disposition`, `Content-Type`, …).
        public var headers: HTTPHeaders
        public var body: [UInt8]

        /// `name` from `Content-Disposition: form-data; name="…"`.
        public var name: String? { dispositionParameters["name"] }
        /// `filename` from the disposition: present for file uploads.
        public var filename: String? { dispositionParameters["filename"] }
        public var contentType: String? { headers["Content-Type"] }

        private var dispositionParameters: [String: String] {
            guard let disposition = headers["Content-Disposition"] else { return [:] }
            return MultipartFormData.parameters(of: disposition)
        }
    }

    public var parts: [Part]

    /// Most parts one body may hold; a body of thousands of empty parts is an attack, not an upload.
    public static let maxParts = 1024
    /// Largest header section of one part.
    public static let maxPartHeaderSize = 8192

    /// The boundary of a `multipart/form-data; boundary=…` content type, or nil for any other type.
    public static func boundary(contentType: String) -> String? {
        let pieces = contentType.split(separator: ";", maxSplits: 1)
        guard let type = pieces.first, trimOWS(type).lowercased() == "multipart/form-data",
              pieces.count == 2 else { return nil }
        guard let boundary = parameters(of: contentType)["boundary"], (1...70).contains(boundary.utf8.count) else { return nil }
        return boundary
    }

    public init(body: [UInt8], boundary: String) throws(MultipartError) {
        let delimiter = Array("--\(boundary)".utf8)
        // The first delimiter may open the body or follow a preamble (which is ignored).
        guard var position = Self.find(delimiter, in: body, from: 0) else { throw .missingBoundary }
        var parts: [Part] = []
        while true {
            position += delimiter.count
            if body[position...].starts(with: Array("--".utf8)) { break }   // close delimiter; an epilogue may follow
            // Transport padding (spaces, tabs) may sit between the delimiter and its CRLF.
            while position < body.count, body[position] == 0x20 || body[position] == 0x09 { position += 1 }
            guard body[position...].starts(with: Self.crlf) else { throw .malformed("a boundary line does not end in CRLF") }
            position += 2
            guard let headerEnd = Self.find(Array("\r\n\r\n".utf8), in: body, from: position - 2) else {
                throw .malformed("a part's header section never ends")
            }
            guard headerEnd - position <= Self.maxPartHeaderSize else { throw .malformed("a part's header section is too large") }
            let headers = try Self.headers(body[position..<max(position, headerEnd)])
            let contentStart = headerEnd + 4
            guard let next = Self.find(Self.crlf + delimiter, in: body, from: contentStart) else {
                throw .malformed("the body ends inside a part (no closing boundary)")
            }
            parts.append(Part(headers: headers, body: Array(body[contentStart..<max(contentStart, next)])))
            guard parts.count <= Self.maxParts else { throw .malformed("more than \(Self.maxParts) parts") }
            position = next + 2
        }
        self.parts = parts
    }

    private static let crlf: [UInt8] = [0x0D, 0x0A]

    /// Header lines split and trimmed as bytes (CRLF, ':', SP/HTAB), decoded to text only then: on Characters a
    /// combining mark after the ':' would merge with the space before it and escape the trimming.
    private static func headers(_ bytes: ArraySlice<UInt8>) throws(MultipartError) -> HTTPHeaders {
        var headers = HTTPHeaders()
        var rest = bytes
        while !rest.isEmpty {
            let end = find(crlf, in: rest) ?? rest.endIndex
            let line = rest[rest.startIndex..<end]
            rest = end == rest.endIndex ? rest[end...] : rest[(end + 2)...]
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon != line.startIndex else {
                throw .malformed("a part has a header line without a name: \(String(decoding: line.prefix(60), as: UTF8.self))")
            }
            let isBlank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
            var value = line[(colon + 1)...]
            while let first = value.first, isBlank(first) { value = value.dropFirst() }
            while let last = value.last, isBlank(last) { value = value.dropLast() }
            headers.add(name: String(decoding: line[..<colon], as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        }
        return headers
    }

    /// `key=value` and `key="quoted value"` parameters after the first `;` of a header value; keys lowercased.
    static func parameters(of value: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(value)
        guard let first = rest.firstIndex(of: ";") else { return result }
        rest = rest[rest.index(after: first)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = trimOWS(rest[..<equals]).lowercased()
            rest = rest[rest.index(after: equals)...]
            var parameter = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped { parameter.append(character); escaped = false }
                    else if character == "\\" { escaped = true }
                    else if character == "\"" { break }
                    else { parameter.append(character) }
                }
                rest = rest.drop { $0 != ";" }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parameter = String(trimOWS(rest[..<end]))
                rest = rest[end...]
            }
            if result[key] == nil { result[key] = parameter }
        }
        return result
    }

    /// The first index of `needle` in `haystack` at or after `start`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard start >= 0, start <= haystack.count else { return nil }
        return find(needle, in: haystack[start...])
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard let first = needle.first, haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == first, haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}

public enum MultipartError: Error, Equatable, CustomStringConvertible, Sendable {
    case missingBoundary
    case malformed(String)

    public var description: String {
        switch self {
        case .missingBoundary: "multipart body: the boundary from Content-Type never appears"
        case .malformed(let reason): "multipart body: \(reason)"
        }
    }
}
