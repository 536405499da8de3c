/// An incremental HTTP/1.1 request parser (RFC 9112): a value fed bytes as they arrive, yielding events.
///
/// A request split at any byte boundary yields the same events. Every limit is checked before the bytes it guards are
/// kept: a body's declared size against `maxBodySize` before any of it is buffered. Nothing here touches a socket, so
/// the parser is easy to test and to fuzz.
public struct HTTPRequestParser: Sendable {
    public enum Event: Sendable, Equatable {
        case head(HTTPRequestHead)
        case body([UInt8])
        case end(trailers: HTTPHeaders)
    }

    enum State: Sendable {
        case requestLine
        case headerFields
        /// The head was yielded; the body limit is applied on the next call (the caller may change it first).
        case bodyPending
        case fixedBody(remaining: Int)
        /// The whole body was yielded; `.end` comes next.
        case endPending
        case chunkSizeLine
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailerFields
        case failed(HTTPParseError)
    }

    public let limits: HTTPServerLimits
    /// The largest body accepted for the current request; set it after `.head` to apply a route's own limit.
    public var maxBodySize: Int

    var state = State.requestLine
    var buffer: [UInt8] = []
    var readIndex = 0
    /// Where the search for the next LF resumes, so a line trickling in byte by byte is scanned once.
    var scanIndex = 0
    // The request being read.
    var method = ""
    var target = ""
    var minorVersion = 1
    var fields = HTTPHeaders()
    var sectionBytes = 0
    var bodyReceived = 0
    var currentFraming = HTTPRequestHead.BodyFraming.none

    public init(limits: HTTPServerLimits = HTTPServerLimits()) {
        self.limits = limits
        self.maxBodySize = limits.maxBodySize
    }

    /// Bytes received but not yet turned into events.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// True between requests with nothing buffered: the connection is idle, not in the middle of a request.
    public var isBetweenRequests: Bool {
        if case .requestLine = state { return bufferedByteCount == 0 }
        return false
    }

    /// True while a request's body is being read (for the body idle timeout).
    public var isReadingBody: Bool {
        switch state {
        case .bodyPending, .fixedBody, .endPending, .chunkSizeLine, .chunkData, .chunkDataEnd, .trailerFields: true
        default: false
        }
    }

    public mutating func append<Bytes: Collection>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            scanIndex -= readIndex
            readIndex = 0
        } else if readIndex > 16 * 1024 && readIndex * 2 > buffer.count {
            buffer.removeFirst(readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next event, or nil when more bytes are needed. After an error, every call throws it again.
    public mutating func next() throws(HTTPParseError) -> Event? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    mutating func step() throws(HTTPParseError) -> Event? {
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .requestLine:
                guard let line = try nextLine(limit: limits.maxRequestLineLength, tooLong: .requestLineTooLong(limit: limits.maxRequestLineLength)) else { return nil }
                if line.isEmpty { continue }  // RFC 9112 §2.2: ignore empty lines before a request line
                try parseRequestLine(line)
                state = .headerFields
            case .headerFields:
                let remaining = limits.maxHeaderSectionSize - sectionBytes
                guard let line = try nextLine(limit: remaining, tooLong: .headerSectionTooLarge(limit: limits.maxHeaderSectionSize)) else { return nil }
                sectionBytes += line.count + 2
                if line.isEmpty {
                    let head = try makeHead()
                    fields = HTTPHeaders()
                    state = .bodyPending
                    return .head(head)
                }
                try parseField(line)
            case .bodyPending:
                return try beginBody()
            case .fixedBody(let remaining):
                guard bufferedByteCount > 0 else { return nil }
                let count = min(remaining, bufferedByteCount)
                let piece = Array(buffer[readIndex..<readIndex + count])
                readIndex += count
                scanIndex = readIndex
                state = remaining == count ? .endPending : .fixedBody(remaining: remaining - count)
                return .body(piece)
            case .endPending:
                return finishRequest(trailers: HTTPHeaders())
            case .chunkSizeLine:
                guard let line = try nextLine(limit: limits.maxChunkLineLength, tooLong: .malformed("chunk size line too long")) else { return nil }
                let size = try parseChunkSize(line)
                if size == 0 {
                    sectionBytes = 0
                    state = .trailerFields
                    continue
                }
                guard size <= maxBodySize - bodyReceived else { throw .bodyTooLarge(limit: maxBodySize) }
                bodyReceived += size
                state = .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard bufferedByteCount > 0 else { return nil }
                let count = min(remaining, bufferedByteCount)
                let piece = Array(buffer[readIndex..<readIndex + count])
                readIndex += count
                scanIndex = readIndex
                state = remaining == count ? .chunkDataEnd : .chunkData(remaining: remaining - count)
                return .body(piece)
            case .chunkDataEnd:
                guard bufferedByteCount >= 2 else {
                    if bufferedByteCount == 1 && buffer[readIndex] != UInt8(ascii: "\r") { throw .malformed("chunk data not followed by CRLF") }
                    return nil
                }
                guard buffer[readIndex] == UInt8(ascii: "\r"), buffer[readIndex + 1] == UInt8(ascii: "\n") else {
                    throw .malformed("chunk data not followed by CRLF")
                }
                readIndex += 2
                scanIndex = readIndex
                state = .chunkSizeLine
            case .trailerFields:
                let remaining = limits.maxHeaderSectionSize - sectionBytes
                guard let line = try nextLine(limit: remaining, tooLong: .headerSectionTooLarge(limit: limits.maxHeaderSectionSize)) else { return nil }
                sectionBytes += line.count + 2
                if line.isEmpty { return finishRequest(trailers: fields) }
                try parseField(line)
            }
        }
    }
}
