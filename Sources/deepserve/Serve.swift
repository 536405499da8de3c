import ArgumentParser
import Dispatch
import Foundation
import HTTPServer
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve over HTTP (for now the health routes alone: GET /health/live and /health/ready).")

    enum LogFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Address to listen on (IPv4 or IPv6; :: for every address).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port = 8080

    @Option(help: "PEM certificate chain; serve HTTPS with --tls-key.")
    var tlsCert: String?

    @Option(help: "PEM private key for --tls-cert.")
    var tlsKey: String?

    @Option(help: "Access and server log format: text or json.")
    var logFormat = LogFormat.text

    @Option(help: "Largest request body in bytes (413 past it).")
    var maxBodySize = HTTPServerLimits().maxBodySize

    @Option(help: "Longest request line in bytes (414 past it).")
    var maxRequestLine = HTTPServerLimits().maxRequestLineLength

    @Option(help: "Largest header section in bytes (431 past it).")
    var maxHeaderSize = HTTPServerLimits().maxHeaderSectionSize

    @Option(help: "Most header fields (431 past it).")
    var maxHeaderCount = HTTPServerLimits().maxHeaderCount

    @Option(help: "Most open connections (503 past it).")
    var maxConnections = HTTPServerLimits().maxConnections

    @Option(help: "Seconds to receive a request head (408 past it).")
    var headerTimeout = 10.0

    @Option(help: "Seconds a request body may pause (408 past it).")
    var bodyTimeout = 30.0

    @Option(help: "Seconds an idle keep-alive connection is kept.")
    var keepAliveTimeout = 60.0

    @Option(help: "Seconds in-flight requests get to finish on SIGTERM/SIGINT.")
    var shutdownGrace = 10.0

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
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

        var router = Router()
        router.get("/health/live") { _ in .json(.ok, #"{"status":"live"}"#) }
        router.get("/health/ready") { _ in .json(.ok, #"{"status":"ready"}"#) }

        let server = try HTTPServer(
            configuration: .init(
                host: host, port: port, limits: limits,
                tls: tlsCert.map { TLSConfiguration(certificatePath: $0, privateKeyPath: tlsKey!) },
                shutdownGracePeriod: .milliseconds(Int(shutdownGrace * 1000))),
            router: router, logger: logger)
        logger.info("listening on \(host):\(server.port)\(tlsCert == nil ? "" : " (TLS)")")

        let signal = await ShutdownSignal.wait()
        logger.info("\(signal) received: shutting down")
        await server.shutdown()
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
