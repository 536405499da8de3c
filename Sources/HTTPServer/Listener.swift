import CHTTPShims
import Dispatch
import Glibc

/// Accepts connections on the listening sockets (one per address the host resolves to) and hands each to a new
/// `Connection`; past the connection cap it answers 503 and closes, so the backlog never fills with clients we won't
/// serve.
///
/// Out of file descriptors (EMFILE, ENFILE), accept fails while the pending connection stays queued, so the
/// level-triggered source would fire again at once and spin a core: we pause accepting for a moment instead.
final class Listener: @unchecked Sendable {
    let port: Int
    private var sources: [DispatchSourceRead] = []
    private let context: ServerContext
    private let queue = DispatchQueue(label: "http.listener")
    // Touched only on `queue`.
    private var paused = false
    private var stopped = false
    /// Set when accepting ran out of descriptors, cleared by the next success: we log once per such episode.
    private var outOfDescriptors = false
    /// accept calls that failed for want of descriptors (tests read it to see that we don't spin).
    let exhaustedAccepts = Locked(0)
    static let exhaustedPauseMilliseconds = 100
    /// The 503 past the connection cap. Like every answer it carries a request id, for the client to quote.
    private static func refusal() -> [UInt8] {
        let body = #"{"error":"too many connections"}"#
        return Array(("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n"
            + "X-Request-Id: \(RequestIDGenerator.next())\r\nConnection: close\r\n\r\n\(body)").utf8)
    }

    init(host: String, port: Int, context: ServerContext) throws(Socket.Error) {
        _ = Socket.ignoreSIGPIPE
        let (fds, port) = try Socket.listen(host: host, port: port)
        self.port = port
        self.context = context
        for fd in fds {
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setCancelHandler { Glibc.close(fd) }
            source.setEventHandler { [self] in acceptAll(fd) }
            source.activate()
            sources.append(source)
        }
    }

    private func acceptAll(_ fd: Int32) {
        while true {
            let client = ds_accept_nonblocking(fd)
            if client < 0 {
                let code = errno
                if code == EINTR || code == ECONNABORTED { continue }
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM { return pauseAccepting(code) }
                return  // EAGAIN: the source fires again when there is more to do
            }
            if outOfDescriptors {
                outOfDescriptors = false
                context.logger.notice("accepting connections again")
            }
            Socket.setNoDelay(client)
            let transport: Transport
            if let tls = context.tls {
                guard let session = TLSTransport(fd: client, context: tls) else { Glibc.close(client); continue }
                transport = session
            } else {
                transport = PlainTransport(fd: client)
            }
            let connection = Connection(fd: client, transport: transport, context: context)
            guard context.register(connection) else {
                if context.tls == nil {
                    _ = Self.refusal().withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                }
                transport.close()
                continue
            }
            connection.start()
        }
    }

    private func pauseAccepting(_ code: Int32) {
        exhaustedAccepts.withLock { $0 += 1 }
        if !outOfDescriptors {
            outOfDescriptors = true
            context.logger.error("cannot accept connections: \(String(cString: strerror(code))); pausing accepts, retrying every \(Self.exhaustedPauseMilliseconds) ms")
        }
        guard !paused, !stopped else { return }
        paused = true
        sources.forEach { $0.suspend() }
        queue.asyncAfter(deadline: .now() + .milliseconds(Self.exhaustedPauseMilliseconds)) { [self] in resumeAccepting() }
    }

    private func resumeAccepting() {
        guard paused else { return }
        paused = false
        sources.forEach { $0.resume() }
    }

    /// Stops accepting; the sockets close in the cancel handlers (a suspended source is resumed first, as Dispatch
    /// runs no cancel handler of a suspended source).
    func stop() {
        queue.sync {
            guard !stopped else { return }
            stopped = true
            resumeAccepting()
            sources.forEach { $0.cancel() }
        }
    }
}
