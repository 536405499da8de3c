import CHTTPShims
import Dispatch
import class Foundation.NSLock
import Glibc
import Logging

/// One client socket: reads bytes into the parser, runs one request at a time (pipelined requests wait their turn, so
/// they are answered in order), writes responses, and enforces the timeouts.
///
/// Whichever thread holds `lock` drives the connection (`withLock`). Its loop (`EventLoop`) reads the socket, runs the
/// timers and writes what could not be written at once; the thread that finished a handler writes the response
/// itself and, if the connection stays open, resumes reading. The client then has its answer without waiting for the
/// loop to wake up (a thread wake-up and an eventfd write per request), and the loop is only woken again by the
/// client's next request. Reads stay on the loop, whose read buffer they use: off the loop, resuming reading leaves
/// it to epoll to report what waits in the socket.
///
/// Reading stops while a response is pending, which is our back-pressure: a client that sends without reading fills
/// its own TCP window, not our memory. The socket is closed on the loop's next turn after it left epoll, under the
/// lock, so nothing later in the same call can touch a reused descriptor.
final class Connection: @unchecked Sendable {
    enum Phase {
        case reading
        case handling
        /// Our side is shut; we drain what the client still sends for a moment so it sees our last response, not an RST.
        case lingering
        case closed
    }

    let loop: EventLoop
    let context: ServerContext
    let transport: Transport
    private let fd: Int32
    /// Held by the thread driving the connection; everything below is touched only under it.
    private let lock = NSLock()
    /// Our socket's entry in the loop's epoll set, once registered.
    private var interest: SocketInterest?
    private var readSuspended = false
    private var readWantsWrite = false
    /// A TLS write needed bytes from the peer first (handshake traffic): write again once the socket is readable,
    /// rather than spinning on a writable socket.
    private var writeWantsRead = false
    private var writeSuspended = true

    var phase = Phase.reading
    var parser: HTTPRequestParser
    private var outbound: [UInt8] = []
    private var outboundOffset = 0
    /// Stream producers waiting for our buffer to drain below the high watermark.
    private var drainWaiters: [CheckedContinuation<Void, Error>] = []

    // The request in progress.
    var exchange: Exchange?
    /// Exchanges that ended under the lock, whose access lines are written once it is let go.
    private var endedExchanges: [Exchange] = []
    /// True while `processInput` runs further up the stack of the thread driving the connection.
    private var processingInput = false
    /// Set when the response being written is the last on this connection.
    var closeAfterResponse = false
    /// When the current request's head began arriving (the header read timeout runs from here).
    private var headStarted: DispatchTime?
    private var lastProgress = DispatchTime.now()

    init(fd: Int32, transport: Transport, context: ServerContext) {
        self.transport = transport
        self.context = context
        self.loop = EventLoops.next()
        self.parser = HTTPRequestParser(limits: context.limits)
        self.fd = fd
    }

    func start() {
        loop.execute { [self] in
            withLock {
                // Shut down between being accepted and starting: close() already let the socket go.
                guard phase != .closed else { return }
                guard let entry = loop.register(self, fd: fd, interest: wantedEvents) else { return close() }
                interest = entry
                if !transport.handshakeComplete { handshakeEnds = .now() + context.limits.tlsHandshakeTimeout.dispatchInterval }
                armTimer()
            }
        }
    }

    /// Runs `body` as the connection's driver, on the calling thread: the loop, a handler's thread, a stream producer's.
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer {
            if endedExchanges.isEmpty {
                lock.unlock()
            } else {
                let ended = endedExchanges
                endedExchanges = []
                lock.unlock()
                // Formatting and buffering an access line takes a while, and the loop may be waiting for the lock with
                // the client's next request.
                for exchange in ended { exchange.logAccess() }
            }
        }
        return try body()
    }

    /// epoll calls made for our socket so far (tests check that a keep-alive exchange makes none).
    var epollChanges: Int { withLock { interest?.changes ?? 0 } }

    // MARK: reading

    /// Reads what the client sent into the parser. On the loop only: the read buffer is the loop's.
    private func readAvailable() {
        assert(loop.inLoop)
        if writeWantsRead {
            writeWantsRead = false
            if phase == .handling { suspendReading() }
            flush()
            return
        }
        guard phase == .reading || phase == .lingering else { return }
        var total = 0
        // One clock read for this wake-up's reads: the timeouts it feeds are seconds long.
        let now = DispatchTime.now()
        // The loop's buffer, shared by its connections: the parser copies what a read brought before the next read.
        let buffer = loop.readBuffer
        // Bounded per wake-up so one fast client can't hog the loop, and so pipelined input stays small.
        while total < 4 * buffer.count {
            let result = transport.read(into: buffer)
            switch result {
            case .transferred(let n):
                total += n
                if phase != .lingering {
                    if parser.isBetweenRequests { headStarted = now }
                    parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
                }
                // A read that didn't fill the buffer emptied the socket: asking again would only hear EAGAIN (a
                // syscall per request). epoll is level-triggered, so bytes arriving after this wake the loop again.
                // TLS may hold decrypted input back where epoll can't see it, so it reads on until told to wait.
                if n < buffer.count && !transport.buffersInput { total = .max }
            case .wouldBlock(let wantsWrite):
                if wantsWrite {
                    readWantsWrite = true
                    resumeWriting()
                }
                total = .max
            case .closed, .failed:
                close()
                return
            }
        }
        lastProgress = now
        if phase == .reading { processInput() }
        // Stopped by the per-wake-up bound rather than by an empty socket: bytes may wait in OpenSSL's buffer, where the
        // read source can't see them, so come back for them.
        if total != .max && phase == .reading { readOnLoop() }
    }

    /// Reading was resumed: on the loop, read now. Off it, epoll reports what waits in the socket (its entry includes
    /// reading again), so only input TLS already took off the socket, where epoll can't see it, needs the loop sent for.
    private func readWaitingInput() {
        if loop.inLoop {
            readAvailable()
        } else if transport.buffersInput {
            readOnLoop()
        }
    }

    private func readOnLoop() {
        loop.execute { [self] in withLock { if phase != .closed { readAvailable() } } }
    }

    /// Turns buffered bytes into requests until one is complete (then waits for its response) or input runs out.
    /// A response written at once (an immediate handler, an error) ends its exchange inside this loop; the loop then
    /// goes on to the next request itself, rather than `finishExchange` calling back in, so a client pipelining
    /// thousands of requests is answered in a loop, not a recursion as deep as its input.
    func processInput() {
        let outer = processingInput
        processingInput = true
        defer { processingInput = outer }
        while phase == .reading {
            let event: HTTPRequestParser.Event?
            do {
                event = try parser.next()
            } catch {
                respondToParseError(error)
                return
            }
            if let exchange, exchange.awaitingContinue, parser.isReadingBody {
                exchange.awaitingContinue = false
                enqueue(ResponseHead.continueResponse)
            }
            guard let event else { break }
            switch event {
            case .head(let head):
                headStarted = nil
                beginExchange(head)
            case .body(let bytes):
                exchange?.body += bytes
            case .end:
                guard let exchange else { continue }
                phase = .handling
                suspendReading()
                nextPeerCheck = .now() + Self.peerCheckInterval
                exchange.run(on: self)
            }
        }
        armTimer()
    }

    private func respondToParseError(_ error: HTTPParseError) {
        let head = exchange?.head
        exchange = Exchange(head: head, requestID: Exchange.requestID(for: head), context: context)
        closeAfterResponse = true
        phase = .handling
        suspendReading()
        exchange!.route = .error(HTTPError(error.status, error.reason))
        exchange!.respond(on: self)
    }

    private func beginExchange(_ head: HTTPRequestHead) {
        let exchange = Exchange(head: head, requestID: Exchange.requestID(for: head), context: context)
        self.exchange = exchange
        if case .found(let route, _) = exchange.route, let limit = route.maxBodySize { parser.maxBodySize = limit }
        let wantsContinue = head.expectsContinue && head.framing != .none && head.framing != .contentLength(0)
        let refusedByPrecheck = exchange.runPrecheck()
        // A request refused anyway (no route, wrong method, its route's precheck) gets its final answer instead of
        // 100 Continue, so the client need not send the body (RFC 9110 §10.1.1); the connection closes after it, as the
        // body may be on its way. A precheck refusal answers at once even without Expect: no body is read for it.
        if refusedByPrecheck || wantsContinue, case .error = exchange.route {
            closeAfterResponse = true
            phase = .handling
            suspendReading()
            exchange.respond(on: self)
            return
        }
        exchange.awaitingContinue = wantsContinue
    }

    // MARK: writing

    func enqueue(_ bytes: [UInt8]) {
        guard phase != .closed else { return }
        if outboundOffset == outbound.count {
            outbound = bytes
            outboundOffset = 0
        } else {
            outbound += bytes
        }
        flush()
    }

    var pendingOutboundBytes: Int { outbound.count - outboundOffset }

    func flush() {
        if readWantsWrite && pendingOutboundBytes == 0 {
            // A TLS read needed the socket writable (handshake traffic); now it is: read again.
            readWantsWrite = false
            suspendWriting()
            readWaitingInput()
            return
        }
        while pendingOutboundBytes > 0 {
            let result = outbound.withUnsafeBytes { transport.write(UnsafeRawBufferPointer(rebasing: $0[outboundOffset...])) }
            switch result {
            case .transferred(let n):
                outboundOffset += n
                lastProgress = .now()
            case .wouldBlock(let wantsWrite):
                if wantsWrite {
                    resumeWriting()
                } else {
                    writeWantsRead = true
                    suspendWriting()
                    resumeReading()
                }
                armTimer()
                return
            case .closed, .failed:
                close()
                return
            }
        }
        // Let go rather than emptied in place: the buffer is usually the answer's own array, still referenced by
        // whoever enqueued it, and emptying a shared buffer "keeping capacity" allocates a new one; the next answer is
        // taken as it is (`enqueue`) anyway.
        outbound = []
        outboundOffset = 0
        suspendWriting()
        drained()
    }

    /// Our buffer emptied: let stream producers go on, or finish the exchange.
    private func drained() {
        let waiters = drainWaiters
        drainWaiters = []
        waiters.forEach { $0.resume() }
        if let exchange, exchange.responseComplete { finishExchange() }
    }

    func writeStreamPiece(_ bytes: [UInt8], _ continuation: CheckedContinuation<Void, Error>) {
        guard phase == .handling, let exchange, !exchange.responseComplete else {
            continuation.resume(throwing: ConnectionClosedError())
            return
        }
        let bytes = exchange.gzipStream?.compress(bytes) ?? bytes
        exchange.bytesSent += bytes.count
        if !exchange.isHead, !bytes.isEmpty { enqueue(exchange.chunkedResponse ? ResponseHead.chunk(bytes) : bytes) }
        if phase == .closed {
            continuation.resume(throwing: ConnectionClosedError())
        } else if pendingOutboundBytes > context.limits.writeBufferHighWatermark {
            drainWaiters.append(continuation)
        } else {
            continuation.resume()
        }
    }

    /// The response was fully handed to us; once flushed, the exchange ends.
    func completeResponse() {
        guard let exchange else { return }
        exchange.responseComplete = true
        if pendingOutboundBytes == 0 { finishExchange() }
    }

    private func finishExchange() {
        guard let exchange else { return }
        if exchange.end(), exchange.writesAccessLine { endedExchanges.append(exchange) }
        self.exchange = nil
        nextPeerCheck = nil
        if closeAfterResponse || context.isShuttingDown {
            linger()
            return
        }
        parser.maxBodySize = context.limits.maxBodySize
        phase = .reading
        resumeReading()
        // Answered from inside `processInput` (further up this stack): it reads on, and its caller goes back to epoll.
        guard !processingInput else { return }
        // Pipelined requests may already sit in the parser (or, with TLS, inside OpenSSL's buffer).
        processInput()
        if phase == .reading { readWaitingInput() }
    }

    // MARK: timeouts

    fileprivate var deadline: DispatchTime?
    /// When a TLS handshake still under way is cut off (nil: plain, or the handshake is done).
    private var handshakeEnds: DispatchTime?
    /// When lingering ends, fixed as it begins.
    private var lingerEnds: DispatchTime?
    /// How long we drain after our last response before closing.
    private static let lingerTime: DispatchTimeInterval = .milliseconds(500)
    /// While a handler runs we don't read (that is the back-pressure), so a client that hangs up would go unnoticed
    /// until we write: every so often we look whether it is still there, and if not, close, which cancels the
    /// handler's task.
    private static let peerCheckInterval: DispatchTimeInterval = .milliseconds(250)
    private var nextPeerCheck: DispatchTime?

    /// When the timeout that applies to the connection's state now runs out (nil: none applies).
    private func currentDeadline() -> DispatchTime? {
        let limits = context.limits
        switch phase {
        case .reading where parser.isBetweenRequests:
            return boundedByHandshake(lastProgress + limits.keepAliveIdleTimeout.dispatchInterval)
        case .reading where parser.isReadingBody:
            return lastProgress + limits.bodyIdleTimeout.dispatchInterval
        case .reading:
            // From the head's first byte, not the last: trickling a byte at a time doesn't extend it (slowloris).
            return (headStarted ?? lastProgress) + limits.headerReadTimeout.dispatchInterval
        case .handling where pendingOutboundBytes > 0:
            return lastProgress + limits.writeIdleTimeout.dispatchInterval
        case .handling:
            return nextPeerCheck
        case .lingering:
            // Fixed when lingering began: bytes trickling in must not hold the connection open.
            return lingerEnds
        default:
            return nil
        }
    }

    /// While a TLS handshake runs, the earlier of `deadline` and the handshake's own fixed one: reads during a
    /// handshake refresh the idle deadline, so a handshake sent a byte at a time would otherwise never time out.
    private func boundedByHandshake(_ deadline: DispatchTime) -> DispatchTime {
        guard let handshakeEnds else { return deadline }
        if transport.handshakeComplete {
            self.handshakeEnds = nil
            return deadline
        }
        return min(deadline, handshakeEnds)
    }

    func armTimer() {
        guard phase != .closed else { return }
        let next = currentDeadline()
        guard next != deadline else { return }
        deadline = next
        if let next { loop.timerArmed(next) }
    }

    private func timerFired() {
        // Progress since the timer was set (a write, a body byte) moves the deadline: check it afresh.
        guard let current = currentDeadline(), DispatchTime.now() >= current else {
            deadline = nil
            return armTimer()
        }
        self.deadline = nil
        switch phase {
        case .reading where !parser.isBetweenRequests:
            // A slow client (slowloris): answer 408 and close.
            let head = exchange?.head
            exchange = Exchange(head: head, requestID: Exchange.requestID(for: head), context: context)
            exchange!.route = .error(HTTPError(.requestTimeout, parser.isReadingBody ? "body not received in time" : "request head not received in time"))
            closeAfterResponse = true
            phase = .handling
            suspendReading()
            exchange!.respond(on: self)
        case .handling where pendingOutboundBytes == 0:
            guard ds_peer_closed(fd) == 0 else { return close() }
            nextPeerCheck = .now() + Self.peerCheckInterval
            armTimer()
        default:
            close()
        }
    }

    // MARK: closing

    /// Ends our side, then reads and drops for a moment so the client receives our last response intact.
    private func linger() {
        transport.shutdownWrite()
        phase = .lingering
        lingerEnds = .now() + Self.lingerTime
        resumeReading()
        armTimer()
    }

    /// Graceful shutdown: close now if idle; otherwise finish the current response and close after it.
    func shutdownGracefully() {
        withLock {
            closeAfterResponse = true
            if phase == .reading && parser.isBetweenRequests { close() }
        }
    }

    func close() {
        guard phase != .closed else { return }
        phase = .closed
        let waiters = drainWaiters
        drainWaiters = []
        waiters.forEach { $0.resume(throwing: ConnectionClosedError()) }
        if let exchange, exchange.ended == nil {
            exchange.status = exchange.status ?? .init(code: 499, reasonPhrase: "Client Closed")
            if exchange.end(), exchange.writesAccessLine { endedExchanges.append(exchange) }
        }
        // A handler still working for a client that is gone can stop early (it sees Task.isCancelled).
        exchange?.cancelWork()
        exchange = nil
        interest?.remove()
        let id = interest?.id
        interest = nil
        // Out of epoll now; the descriptor itself goes on the loop's next turn, after whatever called us has returned
        // (and let go of the lock).
        loop.execute { [self] in
            withLock {
                if let id { loop.deregister(id) }
                transport.close()
            }
            context.unregister(self)
        }
    }

    // Suspending only sets the flag (the loop narrows epoll's interest if an unwanted event comes); resuming widens
    // the interest at once, so the event isn't missed.
    private func suspendReading() { readSuspended = true }

    private func resumeReading() {
        guard readSuspended else { return }
        readSuspended = false
        interestGrew()
    }

    private func suspendWriting() { writeSuspended = true }

    private func resumeWriting() {
        guard writeSuspended else { return }
        writeSuspended = false
        interestGrew()
    }

    private func interestGrew() {
        guard phase != .closed, interest != nil else { return }
        if !interest!.include(wantedEvents) { close() }
    }

    private var wantedEvents: UInt32 {
        guard phase != .closed else { return 0 }
        return (readSuspended ? 0 : UInt32(DS_EPOLL_READ)) | (writeSuspended ? 0 : UInt32(DS_EPOLL_WRITE))
    }
}

extension Connection: EventLoopClient {
    func socketReady(_ ready: UInt32) {
        withLock {
            guard phase != .closed else { return }
            let read = UInt32(DS_EPOLL_READ), write = UInt32(DS_EPOLL_WRITE)
            let wanted = wantedEvents
            if ready & read != 0, wanted & read != 0 { readAvailable() }
            if ready & write != 0, wantedEvents & write != 0 { flush() }
            guard phase != .closed else { return }
            // Level-triggered, an event no longer wanted would fire on every wait: narrow the entry to what is wanted
            // now. Except reading, when it was wanted as this event came: reading a request suspends reading until
            // its answer is out, but a socket seldom becomes readable meanwhile (if it does, that event narrows the
            // entry), and leaving it registered saves two epoll calls per request. A writable socket, by contrast,
            // fires at once.
            interest?.narrow(to: wantedEvents | (wanted & read))
        }
    }

    var timerDeadline: DispatchTime? { withLock { phase == .closed ? nil : deadline } }
    func timerExpired() { withLock { timerFired() } }
}

extension Duration {
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        return .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
    }
}
