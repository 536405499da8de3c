/// What a handler answers: a status, headers, and a body given whole or streamed piece by piece.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Written as it is produced, chunked (close-delimited for HTTP/1.0 clients). The writer's `write` waits while
        /// the client is slow to read, so a producer can't grow our memory. For Server-Sent Events and the like.
        case stream(@Sendable (ResponseBodyWriter) async throws -> Void)
    }

    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: Body

    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = HTTPHeaders(), body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: HTTPStatus = .ok, _ json: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .bytes(Array(json.utf8)))
    }

    public static func text(_ status: HTTPStatus = .ok, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: .bytes(Array(text.utf8)))
    }

    public static func stream(
        _ status: HTTPStatus = .ok, contentType: String,
        _ produce: @escaping @Sendable (ResponseBodyWriter) async throws -> Void
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": contentType], body: .stream(produce))
    }
}

/// Hands a streamed body's pieces to the connection. `write` returns once the piece is queued and our buffer is
/// below the high watermark; it throws once the connection is gone, so a producer stops.
public struct ResponseBodyWriter: Sendable {
    let connection: Connection

    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            connection.withLock { connection.writeStreamPiece(bytes, continuation) }
        }
    }

    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }
}

/// Thrown to a streaming producer when its client went away.
public struct ConnectionClosedError: Error, Sendable {}
