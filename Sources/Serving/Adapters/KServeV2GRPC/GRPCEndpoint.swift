import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging

/// The gRPC listener of `deepserve serve`: KServe V2 (`inference.GRPCInferenceService`, with Triton's repository
/// extension) and `grpc.health.v1.Health` on their own port, sharing the HTTP side's inference core, error policy,
/// admin token, limits and TLS certificate.
public final class GRPCEndpoint: Sendable {
    public struct Settings: Sendable {
        public var host = "0.0.0.0"
        /// 0 picks a free port (tests); `deepserve serve` turns the listener off for 0 before it gets here.
        public var port = 8081
        /// The largest request message, as the HTTP body limit.
        public var maxMessageSize = 64 << 20
        /// Concurrent calls per HTTP/2 connection (the HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS a client is told).
        public var maxConcurrentStreams = 256
        /// PEM certificate chain and private key: serve gRPC over TLS (the files the HTTPS listener uses).
        public var tls: (certificate: String, key: String)?
        public init() {}
    }

    private let server: GRPCServer<HTTP2ServerTransport.Posix>
    private let transport: HTTP2ServerTransport.Posix
    private let draining = DrainFlag()
    private let running: Task<Void, Error>
    private let logger: Logger

    /// Starts listening; returns once the port is bound (throws if it can't be).
    public init(service: ServingService, settings: Settings, logger: Logger) async throws {
        var security = HTTP2ServerTransport.Posix.TransportSecurity.plaintext
        if let tls = settings.tls {
            security = .tls(certificateChain: [.file(path: tls.certificate, format: .pem)], privateKey: .file(path: tls.key, format: .pem))
        }
        transport = HTTP2ServerTransport.Posix(
            address: settings.host.contains(":") ? .ipv6(host: settings.host, port: settings.port) : .ipv4(host: settings.host, port: settings.port),
            transportSecurity: security,
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = settings.maxMessageSize
                config.http2.maxConcurrentStreams = settings.maxConcurrentStreams
            })
        let inference = GRPCInferenceService(core: service.core, generator: service.generator, adminToken: service.adminToken, logger: logger)
        let health = GRPCHealthService(repository: service.repository, draining: draining)
        server = GRPCServer(transport: transport, services: [inference, health], interceptors: [GRPCMetricsInterceptor()])
        self.logger = logger
        running = Task { [server] in try await server.serve() }
        do {
            _ = try await transport.listeningAddress
        } catch {
            running.cancel()
            throw error
        }
    }

    /// The port the listener is bound to.
    public var port: Int {
        get async throws {
            let address = try await transport.listeningAddress
            return address.ipv4?.port ?? address.ipv6?.port ?? 0
        }
    }

    /// Stops accepting calls and waits for the ones in flight (as the HTTP server drains), at most `grace`; calls
    /// still running then are cancelled.
    public func shutdown(grace: Duration) async {
        draining.set()
        server.beginGracefulShutdown()
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask { [running] in _ = await running.result; return true }
            group.addTask { try? await Task.sleep(for: grace); return false }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if !finished {
            logger.warning("gRPC calls still running after the \(grace) grace period; cancelling them")
            running.cancel()
            _ = await running.result
        }
    }
}
