import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Logging
import Metrics
import Prometheus
import Serving

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the models of a model repository over HTTP (KServe V2, task endpoints, metrics, probes).",
        discussion: "Every option can also be set with a DEEPSERVE_* environment variable (--max-body-size ↔ DEEPSERVE_MAX_BODY_SIZE); a flag wins.")

    @OptionGroup(title: "Listening") var listen: ListenOptions
    @OptionGroup(title: "Models and inference") var models: ModelOptions
    @OptionGroup(title: "API") var api: APIOptions
    @OptionGroup(title: "Limits and timeouts") var limits: LimitOptions
    @OptionGroup(title: "Logging") var logging: LoggingOptions

    func validate() throws {
        if let problem = EnvironmentDefaults.invalid.first { throw ValidationError(problem) }
    }

    func run() async throws {
        let format = logging.logFormat
        let level = logging.logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format == .json ? .json : .text)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "deepserve.http")

        var limits = HTTPServerLimits()
        limits.maxBodySize = self.limits.maxBodySize
        limits.maxRequestLineLength = self.limits.maxRequestLine
        limits.maxHeaderSectionSize = self.limits.maxHeaderSize
        limits.maxHeaderCount = self.limits.maxHeaderCount
        limits.maxConnections = self.limits.maxConnections
        limits.headerReadTimeout = .milliseconds(Int(self.limits.headerTimeout * 1000))
        limits.bodyIdleTimeout = .milliseconds(Int(self.limits.bodyTimeout * 1000))
        limits.keepAliveIdleTimeout = .milliseconds(Int(self.limits.keepAliveTimeout * 1000))

        var settings = InferenceScheduler.Settings()
        settings.workers = models.workers
        settings.intraOpThreads = models.intraOpThreads
        settings.defaultQueueSize = models.queueSize
        settings.defaultDeadline = .milliseconds(models.defaultDeadlineMs)
        settings.maxRequestMemory = models.maxRequestMemoryMib == 0 ? nil : models.maxRequestMemoryMib << 20
        let scheduler = InferenceScheduler(settings: settings)
        let repository = ModelRepository(root: URL(fileURLWithPath: models.modelRepository),
                                         strictReadiness: models.strictReadiness)
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ServingMetrics.overheadLabel] = ServingMetrics.overheadBuckets
        MetricsSystem.bootstrap(factory)
        let token = api.adminToken
        let service = ServingService(repository: repository, scheduler: scheduler, metricsText: { registry.emitToString() },
                                     adminToken: token, openAPISpec: try? String(contentsOfFile: api.openapi, encoding: .utf8),
                                     demoPage: api.demoPage, logger: logger)
        var router = Router()
        service.register(on: &router)
        // Every connection is a file descriptor: a soft limit of 1,024 would cap us below --max-connections.
        if let files = HTTPServer.raiseOpenFileLimit(), self.limits.maxConnections > files - 64 {
            logger.warning("the open-file limit is \(files), below --max-connections \(self.limits.maxConnections) plus model files: connections past it wait")
        }

        let server = try HTTPServer(
            configuration: .init(
                host: listen.host, port: listen.port, limits: limits,
                tls: listen.tlsCert.map { TLSConfiguration(certificatePath: $0, privateKeyPath: listen.tlsKey!) },
                cors: api.corsPolicy,
                // Handlers run on the inference workers: a request stays on one pool from parsing to answer.
                handlerExecutor: scheduler.taskExecutor,
                shutdownGracePeriod: .milliseconds(Int(self.limits.shutdownGrace * 1000))),
            router: router, logger: logger)
        let scheme = listen.tlsCert == nil ? "http" : "https"
        logger.info("listening on \(scheme)://\(listen.host):\(server.port) (\(models.workers) inference workers)")
        // Polling fingerprints the files before the first load, so nothing changed during it is missed.
        let poller = models.pollInterval > 0
            ? RepositoryPoller(repository: repository, interval: .milliseconds(Int(models.pollInterval * 1000)), logger: logger) : nil
        // Listening first, loading second: /health/live answers at once, /health/ready once every model is in.
        try repository.loadAll(logger: logger)
        poller?.start()
        let failed = repository.loadFailures.count
        logger.info("\(repository.loaded.count) model(s) ready\(failed > 0 ? ", \(failed) failed" : ""): \(repository.loaded.map(\.name).joined(separator: ", "))")
        let browsable = ["0.0.0.0", "::", ""].contains(listen.host) ? "localhost" : listen.host.contains(":") ? "[\(listen.host)]" : listen.host
        logger.info("open \(scheme)://\(browsable):\(server.port)/\(api.demoPage ? " for the demo page" : "v2 for the server metadata")")

        let grpc = try await startGRPC(service: service, logger: logger)

        let signal = await ShutdownSignal.wait()
        logger.info("\(signal) received: shutting down")
        poller?.stop()
        // Both listeners drain at once: in-flight HTTP requests and gRPC calls get the same grace period.
        let grace = Duration.milliseconds(Int(self.limits.shutdownGrace * 1000))
        let grpcDrained = Task { await grpc?.shutdown(grace: grace) }
        await server.shutdown()
        await grpcDrained.value
        scheduler.shutdown()
        logger.info("stopped")
        LogOutput.standardOutput.flush()
    }
}

extension Serve {
    /// The gRPC listener (`--grpc-port`, 0: none), with the HTTP side's body limit as its message limit and its TLS
    /// certificate.
    private func startGRPC(service: ServingService, logger: Logger) async throws -> GRPCEndpoint? {
        guard listen.grpcPort != 0 else { return nil }
        var settings = GRPCEndpoint.Settings()
        settings.host = listen.host
        settings.port = listen.grpcPort
        settings.maxMessageSize = limits.maxBodySize
        settings.maxConcurrentStreams = listen.maxGRPCStreams
        if let certificate = listen.tlsCert, let key = listen.tlsKey { settings.tls = (certificate, key) }
        let endpoint = try await GRPCEndpoint(service: service, settings: settings, logger: logger)
        let port = try await endpoint.port
        logger.info("listening for gRPC (KServe V2, grpc.health.v1) on \(listen.host):\(port)\(settings.tls == nil ? "" : " with TLS")")
        return endpoint
    }
}

/// Waits for SIGTERM or SIGINT through Dispatch sources (the default actions are turned off so we can drain first).
enum ShutdownSignal {
    static func wait() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let once = OnceFlag()
            var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { if once.claim() { continuation.resume(returning: name) } }
                source.activate()
                sources.append(source)
            }
            keepAlive = sources
        }
    }

    nonisolated(unsafe) private static var keepAlive: [DispatchSourceSignal] = []
}

final class OnceFlag: @unchecked Sendable {
    private var done = false
    private let lock = NSLock()
    func claim() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}
