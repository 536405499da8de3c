import Foundation
import HTTPServer
import Logging

/// Joins the model repository, the scheduler and the HTTP endpoints: what `deepserve serve` runs.
public final class ServingService: Sendable {
    public static let version = "0.1.0"

    public let repository: ModelRepository
    public let scheduler: InferenceScheduler
    /// The metrics backend's exposition text (Prometheus format), served at /metrics.
    private let metricsText: (@Sendable () -> String)?
    /// Enables the model-repository control API; nil leaves it off.
    let adminToken: String?
    /// The OpenAPI document served at /openapi.yaml.
    private let openAPISpec: String?
    /// Serve the demo page (draw a digit, stream text, …) at `GET /`.
    private let demoPage: Bool
    private let logger: Logger
    private let metrics: ServingMetrics
    /// Concurrent generations' shared steps.
    let batcher: StepBatcher
    /// The request path every inference protocol shares.
    let core: InferenceCore
    /// Text generation through the core, for every protocol that generates.
    var generator: TextGenerator { TextGenerator(core: core, batcher: batcher) }

    public init(repository: ModelRepository, scheduler: InferenceScheduler, metricsText: (@Sendable () -> String)? = nil,
                adminToken: String? = nil, openAPISpec: String? = nil, demoPage: Bool = true, logger: Logger = Logger(label: "deepserve.serving")) {
        self.openAPISpec = openAPISpec
        self.demoPage = demoPage
        self.repository = repository
        self.scheduler = scheduler
        metrics = ServingMetrics()
        core = InferenceCore(repository: repository, scheduler: scheduler, metrics: metrics)
        batcher = StepBatcher(core: core)
        self.metricsText = metricsText
        self.adminToken = adminToken.flatMap { $0.isEmpty ? nil : $0 }
        self.logger = logger
    }

    /// Adds every serving route (health, metrics, KServe V2, task endpoints) to `router`; returns them
    /// as "METHOD /pattern".
    @discardableResult
    public func register(on router: inout Router) -> [String] {
        var routes = ["GET /health/live", "GET /health/ready"]
        // Probes and metrics are cheap and never queue behind inference, and are not themselves metered.
        let live = HTTPResponse.constantJSON(["status": "live"])
        router.getImmediate("/health/live") { _ in live }
        router.getImmediate("/health/ready") { [repository] _ in
            struct Readiness: Encodable {
                let status: String
                let failed: Int
                let unavailable_models: [String]
            }
            let unavailable = repository.unavailable
            let status = !repository.hasLoaded ? "loading" : repository.isReady ? "ready" : "unavailable"
            return try .json(status == "ready" ? .ok : .serviceUnavailable,
                             encoding: Readiness(status: status, failed: unavailable.count, unavailable_models: unavailable))
        }
        if let openAPISpec {
            router.getImmediate("/openapi.yaml") { _ in
                var response = HTTPResponse.text(.ok, openAPISpec)
                response.headers.replace(name: "Content-Type", value: "application/yaml")
                return response
            }
            routes.append("GET /openapi.yaml")
        }
        if demoPage {
            // Compiled in from Resources/demo.html; it calls the endpoints below with relative URLs.
            let page = PackageResources.demo_html
            router.getImmediate("/") { _ in
                HTTPResponse(status: .ok, headers: ["Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"],
                             body: .bytes(page))
            }
            routes.append("GET /")
        }
        if let metricsText {
            routes.append("GET /metrics")
            // Immediate: a scrape is never queued behind inference on the workers.
            router.getImmediate("/metrics") { [metrics, repository, scheduler] _ in
                metrics.refreshGauges(repository: repository, scheduler: scheduler)
                var response = HTTPResponse.text(.ok, metricsText())
                response.headers.replace(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
                return response
            }
        }
        var metered = MeteredRouter(router: router, metrics: metrics)
        KServeRoutes(core: core).register(on: &metered)
        TFServingRoutes(core: core).register(on: &metered)
        TextGenerationRoutes(generator: generator).register(on: &metered)
        ImageClassificationRoutes(core: core).register(on: &metered)
        ImageModelRoutes(core: core).register(on: &metered)
        if let adminToken {
            ControlRoutes(repository: repository, token: adminToken, logger: logger).register(on: &metered)
        }
        router = metered.router
        return routes + metered.routes
    }
}
