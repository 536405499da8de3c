import Dispatch
import Logging

/// A handler executor that can tell whether jobs wait for its threads. A handler's thread writes the answer itself
/// when nothing waits for it (the client has it without waiting for the event loop to wake); with jobs waiting (a
/// finished batch's other callers to resume) it leaves the write to the loop, which does it meanwhile.
public protocol WaitingWorkReporting: Sendable {
    var hasWaitingWork: Bool { get }
}

/// An HTTP/1.1 server on Glibc sockets and epoll event loops. Give it a router; it knows nothing of what the routes do.
public final class HTTPServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        /// 0 picks a free port; read it back from `port` after `start()`.
        public var port: Int
        public var limits: HTTPServerLimits
        public var tls: TLSConfiguration?
        /// gzip responses the client accepts, when their type is compressible.
        public var compressResponses: Bool
        /// Cross-origin access for browser pages on other origins; nil (the default) sends no CORS headers.
        public var cors: CORSPolicy?
        /// The executor handler tasks prefer (a worker pool of the application's, say); nil runs them on Swift's
        /// global concurrent executor.
        public var handlerExecutor: (any TaskExecutor)?
        /// How long graceful shutdown lets in-flight requests run before connections are cut.
        public var shutdownGracePeriod: Duration

        public init(host: String = "127.0.0.1", port: Int = 8080, limits: HTTPServerLimits = HTTPServerLimits(),
                    tls: TLSConfiguration? = nil, compressResponses: Bool = true, cors: CORSPolicy? = nil,
                    handlerExecutor: (any TaskExecutor)? = nil, shutdownGracePeriod: Duration = .seconds(10)) {
            self.cors = cors
            self.handlerExecutor = handlerExecutor
            self.host = host
            self.port = port
            self.limits = limits
            self.tls = tls
            self.compressResponses = compressResponses
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }

    public let configuration: Configuration
    let context: ServerContext
    let listener: Listener

    /// Binds and starts accepting at once; throws if the address can't be bound or the TLS files can't be loaded.
    public init(configuration: Configuration, router: Router, logger: Logger) throws {
        self.configuration = configuration
        let tls = try configuration.tls.map { configuration throws(TLSSetupError) in try TLSContext(configuration) }
        context = ServerContext(router: router, limits: configuration.limits, logger: logger, tls: tls,
                                compressResponses: configuration.compressResponses, cors: configuration.cors,
                                handlerExecutor: configuration.handlerExecutor)
        // The event loops' epoll and eventfd descriptors are made now, not by the first connection, which may come
        // when descriptors have run out.
        _ = EventLoops.all
        listener = try Listener(host: configuration.host, port: configuration.port, context: context)
    }

    /// The port actually bound.
    public var port: Int { listener.port }

    public var openConnections: Int { context.openConnections }

    /// Stops accepting, closes idle connections, lets in-flight requests finish for up to `gracePeriod`
    /// (default: the configuration's), then cuts what is left. Returns when every connection is closed.
    public func shutdown(gracePeriod: Duration? = nil) async {
        listener.stop()
        let connections = context.beginShutdown()
        connections.forEach { $0.shutdownGracefully() }
        let grace = gracePeriod ?? configuration.shutdownGracePeriod
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = Locked(false)
            let finish: @Sendable () -> Void = {
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume() }
            }
            context.whenAllClosed(finish)
            DispatchQueue.global().asyncAfter(deadline: .now() + grace.dispatchInterval) { [context] in
                for connection in context.beginShutdown() { connection.withLock { connection.close() } }
                context.whenAllClosed(finish)
            }
        }
    }
}
