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

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Folder of models: NAME/config.json and NAME/VERSION/model.onnx.")
    var modelRepository = EnvironmentDefaults.string("model-repository", "models")

    @Option(help: "Inference worker threads (default: one per core).")
    var workers = EnvironmentDefaults.value("workers", max(1, ProcessInfo.processInfo.activeProcessorCount))

    @Option(help: "Requests a model may queue before 503 (unless its config sets batching.queue_size).")
    var queueSize = EnvironmentDefaults.value("queue-size", 128)

    @Option(help: "Milliseconds a request may wait and run before 504 (a request can ask for less with X-Deadline-Ms).")
    var defaultDeadlineMs = EnvironmentDefaults.value("default-deadline-ms", 30_000)

    @Option(help: "Bearer token that enables the control API (/v2/repository/…). Without one the control API is off.")
    var adminToken: String? = EnvironmentDefaults.optionalString("admin-token")

    @Option(help: "OpenAPI document to serve at /openapi.yaml (skipped if the file is absent).")
    var openapi = EnvironmentDefaults.string("openapi", "openapi.yaml")

    @Option(help: "Address to listen on (IPv4 or IPv6; :: for every address).")
    var host = EnvironmentDefaults.string("host", "127.0.0.1")

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = EnvironmentDefaults.value("port", 8080)

    @Option(help: "PEM certificate chain; serve HTTPS with --tls-key.")
    var tlsCert: String? = EnvironmentDefaults.optionalString("tls-cert")

    @Option(help: "PEM private key for --tls-cert.")
    var tlsKey: String? = EnvironmentDefaults.optionalString("tls-key")

    @Option(help: "Access and server log format: text or json.")
    var logFormat = LogFormat(rawValue: EnvironmentDefaults.string("log-format", "text")) ?? .text

    @Option(help: "Largest request body in bytes (413 past it).")
    var maxBodySize = EnvironmentDefaults.value("max-body-size", HTTPServerLimits().maxBodySize)

    @Option(help: "Longest request line in bytes (414 past it).")
    var maxRequestLine = EnvironmentDefaults.value("max-request-line", HTTPServerLimits().maxRequestLineLength)

    @Option(help: "Largest header section in bytes (431 past it).")
    var maxHeaderSize = EnvironmentDefaults.value("max-header-size", HTTPServerLimits().maxHeaderSectionSize)

    @Option(help: "Most header fields (431 past it).")
    var maxHeaderCount = EnvironmentDefaults.value("max-header-count", HTTPServerLimits().maxHeaderCount)

    @Option(help: "Most open connections (503 past it).")
    var maxConnections = EnvironmentDefaults.value("max-connections", HTTPServerLimits().maxConnections)

    @Option(help: "Seconds to receive a request head (408 past it).")
    var headerTimeout = EnvironmentDefaults.value("header-timeout", 10.0)

    @Option(help: "Seconds a request body may pause (408 past it).")
    var bodyTimeout = EnvironmentDefaults.value("body-timeout", 30.0)

    @Option(help: "Seconds an idle keep-alive connection is kept.")
    var keepAliveTimeout = EnvironmentDefaults.value("keep-alive-timeout", 60.0)

    @Option(help: "Seconds in-flight requests get to finish on SIGTERM/SIGINT.")
    var shutdownGrace = EnvironmentDefaults.value("shutdown-grace", 10.0)

    func validate() throws {
        if let problem = EnvironmentDefaults.invalid.first { throw ValidationError(problem) }
        if let format = ProcessInfo.processInfo.environment["DEEPSERVE_LOG_FORMAT"], LogFormat(rawValue: format) == nil {
            throw ValidationError("DEEPSERVE_LOG_FORMAT='\(format)' is not a valid value for --log-format (text or json)")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard workers >= 1, workers <= 256 else { throw ValidationError("--workers must be 1...256") }
        guard queueSize >= 1 else { throw ValidationError("--queue-size must be at least 1") }
        guard defaultDeadlineMs >= 1 else { throw ValidationError("--default-deadline-ms must be positive") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelRepository, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--model-repository '\(modelRepository)' is not a folder")
        }
    }

    func run() async throws {
        let format = logFormat
        LoggingSystem.bootstrap { label in
            format == .json ? JSONLogHandler(label: label) as LogHandler : StreamLogHandler.standardOutput(label: label)
        }
        let logger = Logger(label: "deepserve.http")

        var limits = HTTPServerLimits()
        limits.maxBodySize = maxBodySize
        limits.maxRequestLineLength = maxRequestLine
        limits.maxHeaderSectionSize = maxHeaderSize
        limits.maxHeaderCount = maxHeaderCount
        limits.maxConnections = maxConnections
        limits.headerReadTimeout = .milliseconds(Int(headerTimeout * 1000))
        limits.bodyIdleTimeout = .milliseconds(Int(bodyTimeout * 1000))
        limits.keepAliveIdleTimeout = .milliseconds(Int(keepAliveTimeout * 1000))

        var settings = InferenceScheduler.Settings()
        settings.workers = workers
        settings.defaultQueueSize = queueSize
        settings.defaultDeadline = .milliseconds(defaultDeadlineMs)
        let scheduler = InferenceScheduler(settings: settings)
        let repository = ModelRepository(root: URL(fileURLWithPath: modelRepository))
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let token = adminToken
        let service = ServingService(repository: repository, scheduler: scheduler, metricsText: { registry.emitToString() },
                                     adminToken: token, openAPISpec: try? String(contentsOfFile: openapi, encoding: .utf8),
                                     logger: logger)
        var router = Router()
        service.register(on: &router)

        let server = try HTTPServer(
            configuration: .init(
                host: host, port: port, limits: limits,
                tls: tlsCert.map { TLSConfiguration(certificatePath: $0, privateKeyPath: tlsKey!) },
                shutdownGracePeriod: .milliseconds(Int(shutdownGrace * 1000))),
            router: router, logger: logger)
        logger.info("listening on \(tlsCert == nil ? "http" : "https")://\(host):\(server.port) (\(workers) inference workers)")
        // Listening first, loading second: /health/live answers at once, /health/ready once every model is in.
        try repository.loadAll(logger: logger)
        logger.info("\(repository.loaded.count) model(s) ready: \(repository.loaded.map(\.name).joined(separator: ", "))")

        let signal = await ShutdownSignal.wait()
        logger.info("\(signal) received: shutting down")
        await server.shutdown()
        scheduler.shutdown()
        logger.info("stopped")
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
