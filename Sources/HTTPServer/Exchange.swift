import Dispatch
import Logging
import Synchronization

/// One request and its response on a connection: routing result, body, timing, and what the access log needs.
/// Touched only by the thread driving its connection, under the connection's lock (the handler gets a copy of the
/// request, not this).
final class Exchange: @unchecked Sendable {
    enum Routing {
        case found(Router.Route, parameters: [String: String])
        /// Answered without a handler (a CORS preflight).
        case answered(HTTPResponse)
        case error(HTTPError)
    }

    let head: HTTPRequestHead?
    let requestID: String
    let started = DispatchTime.now()
    var route: Routing
    var body: [UInt8] = []
    var awaitingContinue = false
    var status: HTTPStatus?
    var bytesSent = 0
    var chunkedResponse = false
    /// Compresses a streamed body piece by piece when the response is gzipped.
    var gzipStream: GzipStream?
    var responseComplete = false
    /// When the exchange ended (its response written, or the connection gone); its access line is written after.
    private(set) var ended: DispatchTime?
    /// The handler's task, then the stream producer's: cancelled when the connection dies before the answer is out.
    private var work: Task<Void, Never>?
    /// The server's, for its logger: held by reference (copying the `Logger` into every exchange retained each part
    /// of its handler).
    private let context: ServerContext

    init(head: HTTPRequestHead?, requestID: String, context: ServerContext) {
        self.head = head
        self.requestID = requestID
        self.context = context
        guard let head else {
            route = .error(HTTPError(.badRequest, "bad request"))
            return
        }
        if let preflight = context.cors?.preflight(head, router: context.router) {
            route = .answered(preflight)
            return
        }
        switch context.router.match(method: head.method, segments: head.pathSegments) {
        case .found(let found, let parameters): route = .found(found, parameters: parameters)
        case .notFound: route = .error(HTTPError(.notFound, "no route for \(head.path)"))
        case .methodNotAllowed(let allow):
            route = .error(HTTPError(.methodNotAllowed, "method \(head.method) not allowed", headers: ["Allow": allow.joined(separator: ", ")]))
        }
    }

    var isHead: Bool { head?.method == "HEAD" }

    /// Runs the route's precheck on the head; a refusal becomes this exchange's answer. True when it refused.
    func runPrecheck() -> Bool {
        guard case .found(let route, _) = route, let precheck = route.precheck, let head else { return false }
        do throws(HTTPError) {
            try precheck(head)
            return false
        } catch {
            self.route = .error(error)
            return true
        }
    }

    /// Tells the running handler or stream producer that nobody waits for its answer any more.
    func cancelWork() { work?.cancel() }

    /// The client's X-Request-Id when it is short and printable, else a fresh one.
    static func requestID(for head: HTTPRequestHead?) -> String {
        if let given = head?.headers["X-Request-Id"], !given.isEmpty, given.utf8.count <= 128,
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return given
        }
        return RequestIDGenerator.next()
    }

    /// Runs the handler as a task (never on the event loop), then sends its response from the task's own thread.
    func run(on connection: Connection) {
        guard case .found(let found, let parameters) = route, let head else { return respond(on: connection) }
        // gzip-encoded bodies are decoded here, with the body limit applied to the decoded size.
        var body = self.body
        if let encoding = head.headers["Content-Encoding"]?.lowercased(), encoding != "identity" {
            guard encoding == "gzip" || encoding == "x-gzip" else {
                route = .error(HTTPError(.unsupportedMediaType, "unsupported content coding \(encoding)"))
                return respond(on: connection)
            }
            do {
                body = try Gzip.decompress(body, limit: found.maxBodySize ?? connection.context.limits.maxBodySize)
            } catch .tooLarge {
                connection.closeAfterResponse = true
                route = .error(HTTPError(.contentTooLarge, "decoded body larger than \(found.maxBodySize ?? connection.context.limits.maxBodySize) bytes"))
                return respond(on: connection)
            } catch {
                route = .error(HTTPError(.badRequest, "corrupt gzip body"))
                return respond(on: connection)
            }
        }
        let request = HTTPRequest(head: head, body: body, pathParameters: parameters, requestID: requestID)
        switch found.handler {
        case .immediate(let handler):
            let response: HTTPResponse
            do { response = try handler(request) } catch { response = errorResponse(error, request: request, context: connection.context) }
            send(response, on: connection)
        case .task(let handler):
            work = Task(executorPreference: connection.context.handlerExecutor) {
                let response: HTTPResponse
                do { response = try await handler(request) } catch { response = self.errorResponse(error, request: request, context: connection.context) }
                // Made ready (compressed) before the lock is taken, which the loop may want meanwhile. Written from
                // here rather than handed back to the loop, which would have to wake up for it, unless other jobs wait
                // for this thread (see `WaitingWorkReporting`).
                let ready = self.prepared(response, context: connection.context)
                if (connection.context.handlerExecutor as? any WaitingWorkReporting)?.hasWaitingWork == true {
                    connection.loop.execute { connection.withLock { self.deliver(ready, on: connection) } }
                } else {
                    connection.withLock { self.deliver(ready, on: connection) }
                }
            }
        }
    }

    /// An `HTTPError` answers as itself; anything else is logged and answered 500.
    private func errorResponse(_ error: Error, request: HTTPRequest, context: ServerContext) -> HTTPResponse {
        if let error = error as? HTTPError { return error.response }
        // Cancelled because the client went away: nobody will see this answer, and the access log says 499.
        if error is CancellationError && Task.isCancelled { return HTTPError(.internalServerError, "cancelled").response }
        context.logger.error("handler failed", metadata: ["path": "\(request.path)", "error": "\(error)", "request_id": "\(request.requestID)"])
        return HTTPError(.internalServerError, "internal error").response
    }

    /// Answers a routing, parsing or decoding error, or a preflight, without running a handler.
    func respond(on connection: Connection) {
        switch route {
        case .found: return
        case .answered(let response): send(response, on: connection)
        case .error(let error):
            if error.status.code >= 400 && head == nil { connection.closeAfterResponse = true }
            send(error.response, on: connection)
        }
    }

    private func send(_ response: HTTPResponse, on connection: Connection) {
        deliver(prepared(response, context: connection.context), on: connection)
    }

    /// `response` with the CORS headers, and a whole body compressed when the client takes gzip (X-Request-Id is
    /// written by `deliver`). Needs nothing of the connection's state, so a handler's thread does it before taking the
    /// connection's lock.
    private func prepared(_ response: HTTPResponse, context: ServerContext) -> HTTPResponse {
        var response = response
        context.cors?.decorate(&response.headers, origin: head?.headers["Origin"])
        if case .bytes(let bytes) = response.body, bytes.count >= Gzip.minimumSize, wantsGzip(response.headers, context: context),
           let compressed = Gzip.compress(bytes) {
            response.body = .bytes(compressed)
            response.headers.add(name: "Content-Encoding", value: "gzip")
            response.headers.add(name: "Vary", value: "Accept-Encoding")
        }
        return response
    }

    /// Writes a `prepared` response (under the connection's lock).
    private func deliver(_ response: HTTPResponse, on connection: Connection) {
        guard connection.phase == .handling, connection.exchange === self else { return }
        let minorVersion = head?.minorVersion ?? 1
        if let head, !head.keepAlive { connection.closeAfterResponse = true }
        let keepAlive = !connection.closeAfterResponse && !connection.context.isShuttingDown
        var headers = response.headers
        status = response.status
        switch response.body {
        case .bytes(let bytes):
            var out = ResponseHead.encode(status: response.status, headers: headers, framing: .contentLength(bytes.count),
                                          keepAlive: keepAlive, minorVersion: minorVersion, requestID: requestID)
            if !isHead && !response.status.forbidsBody {
                out += bytes
                bytesSent = bytes.count
            }
            connection.enqueue(out)
            connection.completeResponse()
        case .stream(let produce):
            if wantsGzip(headers, context: connection.context), let stream = GzipStream() {
                gzipStream = stream
                headers.add(name: "Content-Encoding", value: "gzip")
                headers.add(name: "Vary", value: "Accept-Encoding")
            }
            // HTTP/1.0 has no chunked coding: the body then ends when we close.
            chunkedResponse = minorVersion == 1
            if !chunkedResponse { connection.closeAfterResponse = true }
            connection.enqueue(ResponseHead.encode(status: response.status, headers: headers, framing: chunkedResponse ? .chunked : .untilClose,
                                                   keepAlive: keepAlive && chunkedResponse, minorVersion: minorVersion,
                                                   requestID: requestID))
            if isHead { return connection.completeResponse() }
            let writer = ResponseBodyWriter(connection: connection)
            work = Task(executorPreference: connection.context.handlerExecutor) {
                do {
                    try await produce(writer)
                    connection.withLock {
                        guard connection.exchange === self else { return }
                        if let trailer = self.gzipStream?.finish(), !trailer.isEmpty {
                            self.bytesSent += trailer.count
                            connection.enqueue(self.chunkedResponse ? ResponseHead.chunk(trailer) : trailer)
                        }
                        if self.chunkedResponse { connection.enqueue(ResponseHead.lastChunk) }
                        connection.completeResponse()
                    }
                } catch {
                    // Mid-stream there is no way to send an error status: cut the connection so the client sees it broke.
                    connection.withLock { if connection.exchange === self { connection.close() } }
                }
            }
        }
    }

    /// Whether to gzip this response: the server compresses, the type is worth it, the client accepts it, and the
    /// handler hasn't encoded the body itself.
    private func wantsGzip(_ headers: HTTPHeaders, context: ServerContext) -> Bool {
        guard context.compressResponses, !headers.contains("Content-Encoding"),
              Gzip.isCompressible(contentType: headers["Content-Type"]), let head else { return false }
        return Gzip.isAccepted(by: head.headers.values("Accept-Encoding"))
    }

    /// Fixes the exchange's duration. True the first time: its access line is then due (`logAccess`).
    func end() -> Bool {
        guard ended == nil else { return false }
        ended = .now()
        return true
    }

    /// Whether `logAccess` writes anything (info lines on): a connection keeps ended exchanges for it only then.
    var writesAccessLine: Bool { context.logger.logLevel <= .info }

    /// Writes the access line of an exchange that ended (nothing touches it any more, so no lock is needed).
    func logAccess() {
        // The line's fields are formatted before the logger sees them: skip it all when info lines are off.
        guard context.logger.logLevel <= .info else { return }
        let micros = ((ended ?? .now()).uptimeNanoseconds - started.uptimeNanoseconds) / 1000
        let code = status?.code ?? 0
        let method = head?.method ?? "-"
        let path = head?.path ?? "-"
        // Each number formatted once, for the message and its field (a Double's text is the dearest part).
        let duration = "\(Double(micros) / 1000)", status = String(code), bytes = String(bytesSent)
        context.logger.info("\(method) \(path) \(status) \(bytes)B \(duration)ms", metadata: [
            "method": .string(method), "path": .string(path), "status": .string(status), "bytes": .string(bytes),
            "duration_ms": .string(duration), "request_id": .string(requestID),
        ])
    }
}

/// Request ids: a random per-process prefix and a counter, cheap and unique enough to correlate logs. Written as bytes
/// with an atomic counter: most ids fit Swift's 15-byte small strings, so making one allocates nothing.
enum RequestIDGenerator {
    private static let prefix = Array(String(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF, radix: 16).utf8)
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            var count = 0
            for byte in prefix { buffer[count] = byte; count += 1 }
            buffer[count] = UInt8(ascii: "-")
            count += 1
            let digits = max(1, (64 - n.leadingZeroBitCount + 3) / 4)
            for i in 0..<digits {
                let nibble = UInt8(truncatingIfNeeded: n >> UInt64(4 * (digits - 1 - i))) & 0xF
                buffer[count] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                count += 1
            }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[..<count]), as: UTF8.self)
        }
    }
}
