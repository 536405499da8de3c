/// A whole request as a handler sees it: the head, the body (gzip already decoded), and what routing found.
public struct HTTPRequest: Sendable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
    /// Values of the route pattern's `{name}` segments.
    public var pathParameters: [String: String]
    /// The client's `X-Request-Id` if it sent a sane one, else one we made; echoed in the response.
    public var requestID: String

    public init(head: HTTPRequestHead, body: [UInt8] = [], pathParameters: [String: String] = [:], requestID: String = "") {
        self.head = head
        self.body = body
        self.pathParameters = pathParameters
        self.requestID = requestID
    }

    public var method: String { head.method }
    public var path: String { head.path }
    public var headers: HTTPHeaders { head.headers }
    public func query(_ name: String) -> String? { head.query(name) }
}

/// A handler: takes a request, answers later. It runs as a Swift task, never on an I/O thread, so it may await a
/// worker pool. Throw `HTTPError` for a client-facing error; anything else becomes a 500.
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// A handler that answers at once, without awaiting or blocking (probes, metadata, static pages). It runs on the
/// connection's own event loop, which saves the two thread hand-offs of a task: for the cheapest routes those cost more
/// than the work. Anything that waits (inference, I/O) must be an `HTTPHandler`.
public typealias HTTPImmediateHandler = @Sendable (HTTPRequest) throws -> HTTPResponse

/// Vets a request's head before its body is read and before 100 Continue is sent: throw to refuse (say, 401 for a
/// missing token), and the client gets that answer at once, without 100, and the connection closes. It runs on the
/// connection's event loop, so it must be cheap and never wait. It doesn't replace the handler's own checks.
public typealias HTTPPrecheck = @Sendable (HTTPRequestHead) throws(HTTPError) -> Void
