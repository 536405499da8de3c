import ArgumentParser
import Foundation
import HTTPServer
import Logging

// `deepserve serve`'s settings, in the groups `--help` shows. Each default comes from its DEEPSERVE_* variable when
// set (see EnvironmentDefaults), so a flag wins over the environment, which wins over the built-in default.

struct ListenOptions: ParsableArguments {
    @Option(help: "Address to listen on (IPv4 or IPv6; 0.0.0.0 or :: for every address).")
    var host = EnvironmentDefaults.string("host", "127.0.0.1")

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = EnvironmentDefaults.value("port", 8080)

    @Option(name: .customLong("grpc-port"), help: "Port of the KServe V2 gRPC listener (and grpc.health.v1); 0 turns it off. Same host and TLS certificate as HTTP.")
    var grpcPort = EnvironmentDefaults.value("grpc-port", 8081)

    @Option(name: .customLong("max-grpc-streams"), help: "Most concurrent gRPC calls per connection.")
    var maxGRPCStreams = EnvironmentDefaults.value("max-grpc-streams", 256)

    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain; serve HTTPS (and gRPC over TLS) with --tls-key.")
    var tlsCertFlag: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var tlsKeyFlag: String?

    // Optional settings read their variable here rather than as a default, which --help would print.
    var tlsCert: String? { tlsCertFlag ?? EnvironmentDefaults.optionalString("tls-cert") }
    var tlsKey: String? { tlsKeyFlag ?? EnvironmentDefaults.optionalString("tls-key") }

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...65535).contains(grpcPort) else { throw ValidationError("--grpc-port must be 0...65535 (0: no gRPC)") }
        guard grpcPort == 0 || grpcPort != port || port == 0 else { throw ValidationError("--grpc-port must differ from --port") }
        guard maxGRPCStreams >= 1 else { throw ValidationError("--max-grpc-streams must be at least 1") }
    }
}

struct ModelOptions: ParsableArguments {
    @Option(help: "Folder of models: NAME/config.json and NAME/VERSION/model.onnx.")
    var modelRepository = EnvironmentDefaults.string("model-repository", "models")

    @Option(help: "Seconds between scans of the model repository for added, changed and removed models (0: off).")
    var pollInterval = EnvironmentDefaults.value("poll-interval", 0.0)

    @Flag(inversion: .prefixedNo,
          help: "Ready (/health/ready) only while every model that should be serving is available (Triton's default); off: ready once the first load pass is done, failed models reported per model.")
    var strictReadiness = EnvironmentDefaults.value("strict-readiness", true)

    @Option(help: "Inference worker threads (default: one per core).")
    var workers = EnvironmentDefaults.value("workers", max(1, ProcessInfo.processInfo.activeProcessorCount))

    @Option(help: "Threads one run of a model computes on, unless its config sets intra_op_threads (the scheduler counts them as busy cores).")
    var intraOpThreads = EnvironmentDefaults.value("intra-op-threads", 1)

    @Option(help: "Requests a model may queue before 503 (unless its config sets batching.queue_size).")
    var queueSize = EnvironmentDefaults.value("queue-size", 128)

    @Option(help: "Milliseconds a request may wait and run before 504 (a request can ask for less with X-Deadline-Ms).")
    var defaultDeadlineMs = EnvironmentDefaults.value("default-deadline-ms", 30_000)

    @Option(help: "MiB of intermediate tensors one request's run may hold at once (413 past it; 0: no cap but the engine's own).")
    var maxRequestMemoryMib = EnvironmentDefaults.value("max-request-memory-mib", 256)

    func validate() throws {
        guard workers >= 1, workers <= 256 else { throw ValidationError("--workers must be 1...256") }
        guard intraOpThreads >= 1, intraOpThreads <= 256 else { throw ValidationError("--intra-op-threads must be 1...256") }
        guard queueSize >= 1 else { throw ValidationError("--queue-size must be at least 1") }
        guard defaultDeadlineMs >= 1, defaultDeadlineMs <= 86_400_000 else {
            throw ValidationError("--default-deadline-ms must be 1...86400000")
        }
        guard maxRequestMemoryMib >= 0, maxRequestMemoryMib <= 1 << 20 else {
            throw ValidationError("--max-request-memory-mib must be 0...1048576")
        }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelRepository, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--model-repository '\(modelRepository)' is not a folder")
        }
        guard pollInterval >= 0, pollInterval <= 86_400 else { throw ValidationError("--poll-interval must be 0...86400 seconds") }
    }
}

struct APIOptions: ParsableArguments {
    @Option(name: .customLong("admin-token"),
            help: "Bearer token that enables the control API (/v2/repository/…). Without one the control API is off.")
    var adminTokenFlag: String?

    @Option(name: .customLong("cors-origins"),
            help: "Comma-separated origins whose browser pages may call the API (CORS), or * for any; none by default.")
    var corsOriginsFlag: String?

    @Option(help: "OpenAPI document to serve at /openapi.yaml (skipped if the file is absent).")
    var openapi = EnvironmentDefaults.string("openapi", "openapi.yaml")

    @Flag(inversion: .prefixedNo, help: "Serve the demo page at / (draw a digit, stream text, sample the GAN).")
    var demoPage = EnvironmentDefaults.value("demo-page", true)

    // Read here rather than as defaults, which --help would print (the token is a secret).
    var adminToken: String? { adminTokenFlag ?? EnvironmentDefaults.optionalString("admin-token") }

    var corsPolicy: CORSPolicy? {
        let origins = (corsOriginsFlag ?? EnvironmentDefaults.optionalString("cors-origins") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return origins.isEmpty ? nil : CORSPolicy(allowedOrigins: origins)
    }

    func validate() throws {
        for origin in corsPolicy?.allowedOrigins ?? [] where origin != "*" {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                  url.path.isEmpty else {
                throw ValidationError("--cors-origins: '\(origin)' is not an origin like https://app.example.com (or *)")
            }
        }
    }
}

struct LimitOptions: ParsableArguments {
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
        for (flag, value) in [("--max-body-size", maxBodySize), ("--max-request-line", maxRequestLine),
                              ("--max-header-size", maxHeaderSize), ("--max-header-count", maxHeaderCount),
                              ("--max-connections", maxConnections)] where value < 1 {
            throw ValidationError("\(flag) must be at least 1")
        }
        for (flag, value) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout),
                              ("--keep-alive-timeout", keepAliveTimeout), ("--shutdown-grace", shutdownGrace)]
        where !(value > 0 && value <= 86_400) {
            throw ValidationError("\(flag) must be a number of seconds in (0, 86400]")
        }
    }
}

struct LoggingOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }
    enum Level: String, ExpressibleByArgument, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
        var level: Logger.Level { Logger.Level(rawValue: rawValue)! }
    }

    @Option(help: "Access and server log format: text or json.")
    var logFormat = Format(rawValue: EnvironmentDefaults.string("log-format", "text")) ?? .text

    @Option(help: "Least severe log level written (trace, debug, info, notice, warning, error, critical); the access log is info.")
    var logLevel = Level(rawValue: EnvironmentDefaults.string("log-level", "info")) ?? .info

    func validate() throws {
        let environment = ProcessInfo.processInfo.environment
        if let format = environment["DEEPSERVE_LOG_FORMAT"], Format(rawValue: format) == nil {
            throw ValidationError("DEEPSERVE_LOG_FORMAT='\(format)' is not a valid value for --log-format (text or json)")
        }
        if let level = environment["DEEPSERVE_LOG_LEVEL"], Level(rawValue: level) == nil {
            throw ValidationError("DEEPSERVE_LOG_LEVEL='\(level)' is not a valid value for --log-level (\(Level.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
    }
}
