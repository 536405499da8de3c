import Dispatch
import HTTPServer
import Metrics

/// What the serving layer reports through swift-metrics (the executable bootstraps the Prometheus
/// backend and serves it at /metrics): requests by route and status with their latency, and per
/// model the requests, executions (so the batch size shows), queue and compute time, queue depth
/// and the version loaded.
public struct ServingMetrics: Sendable {
    /// Wraps a handler so each answer is counted by route pattern and status, and timed; for requests that ran a
    /// model, the time spent neither queued nor computing is recorded too (`deepserve_request_overhead_seconds`).
    func instrument(route: String, _ handler: @escaping HTTPHandler) -> HTTPHandler {
        { request in
            let start = DispatchTime.now().uptimeNanoseconds
            let inference = InferenceTime()
            do {
                let response = try await Self.$inferenceTime.withValue(inference) { try await handler(request) }
                Self.record(route: route, status: response.status.code, since: start, inference: inference)
                return response
            } catch {
                Self.record(route: route, status: (error as? HTTPError)?.status.code ?? 500, since: start, inference: inference)
                throw error
            }
        }
    }

    /// Queue and compute time of the request the current task serves, summed over its inferences.
    final class InferenceTime: @unchecked Sendable {
        // Touched by the request's own task, one step at a time, or by the lane running its generation's steps while
        // that task waits for the lane's events (`GenerationStream.record`).
        var nanoseconds: Int64 = 0
        var runs = 0
    }

    @TaskLocal static var inferenceTime: InferenceTime?

    func instrument(route: String, _ handler: @escaping HTTPImmediateHandler) -> HTTPImmediateHandler {
        { request in
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let response = try handler(request)
                Self.record(route: route, status: response.status.code, since: start)
                return response
            } catch {
                Self.record(route: route, status: (error as? HTTPError)?.status.code ?? 500, since: start)
                throw error
            }
        }
    }

    private static func record(route: String, status: Int, since start: UInt64, inference: InferenceTime? = nil) {
        let elapsed = Int64(DispatchTime.now().uptimeNanoseconds - start)
        let overhead = inference.flatMap { $0.runs > 0 && status == 200 ? max(0, elapsed - $0.nanoseconds) : nil }
        DeferredMetrics.submit(.request(route: route, status: status, nanoseconds: elapsed, overheadNanoseconds: overhead))
    }

    struct RouteStatus: Hashable, Sendable {
        let route: String
        let status: Int
    }

    /// Every metric a request or a run records, made once per route, status or model (`MetricsCache`).
    enum Handles {
        static let requests = MetricsCache<RouteStatus, Counter> {
            Counter(label: "deepserve_http_requests_total", dimensions: [("route", $0.route), ("status", String($0.status))])
        }
        static let durations = MetricsCache<String, Timer> {
            Timer(label: "deepserve_http_request_duration_seconds", dimensions: [("route", $0)])
        }
        static let overheads = MetricsCache<String, Timer> { Timer(label: overheadLabel, dimensions: [("route", $0)]) }
        static let inferences = MetricsCache<String, Counter> {
            Counter(label: "deepserve_inference_requests_total", dimensions: [("model", $0)])
        }
        static let queueTimes = MetricsCache<String, Timer> {
            Timer(label: "deepserve_inference_queue_seconds", dimensions: [("model", $0)])
        }
        static let executions = MetricsCache<String, Counter> {
            Counter(label: "deepserve_inference_executions_total", dimensions: [("model", $0)])
        }
        static let rows = MetricsCache<String, Counter> { Counter(label: "deepserve_inference_rows_total", dimensions: [("model", $0)]) }
        static let batchRequests = MetricsCache<String, Recorder> {
            Recorder(label: "deepserve_inference_batch_requests", dimensions: [("model", $0)], aggregate: true)
        }
        static let computeTimes = MetricsCache<String, Timer> {
            Timer(label: "deepserve_inference_compute_seconds", dimensions: [("model", $0)])
        }
    }

    /// Per request that ran a model: handler time minus its queue and batch compute time (decoding, preprocessing,
    /// JSON, hand-offs). The executable gives it microsecond buckets.
    public static let overheadLabel = "deepserve_request_overhead_seconds"
    public static let overheadBuckets: [Duration] = [10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 500, 1000, 2000, 5000, 20_000]
        .map { .microseconds($0) }

    /// One request answered by a model, with the time it queued and the time its batch computed.
    func recordInference(model: String, timing: InferenceScheduler.Timing) {
        if let current = Self.inferenceTime {
            current.nanoseconds += Int64((timing.queueSeconds + timing.computeSeconds) * 1e9)
            current.runs += 1
        }
        DeferredMetrics.submit(.inference(model: model, queueNanoseconds: Int64(timing.queueSeconds * 1e9)))
    }

    /// One execution of a model (a batch of `rows`, from `requests` requests).
    static func recordExecution(model: String, rows: Int, requests: Int, computeSeconds: Double) {
        DeferredMetrics.submit(.execution(model: model, rows: rows, requests: requests,
                                          computeNanoseconds: Int64(computeSeconds * 1e9)))
    }

    /// Before a scrape: the updates workers hold (`DeferredMetrics`) applied, and the gauges read now — queue depth
    /// and loaded version per model.
    func refreshGauges(repository: ModelRepository, scheduler: InferenceScheduler) {
        DeferredMetrics.flushAll()
        let depths = scheduler.queueDepths
        for model in repository.loaded {
            Gauge(label: "deepserve_queue_depth", dimensions: [("model", model.name)]).record(depths[model.name] ?? 0)
            Gauge(label: "deepserve_model_loaded_version", dimensions: [("model", model.name)]).record(model.version)
        }
    }
}

/// A router whose routes are all instrumented with `ServingMetrics`.
struct MeteredRouter {
    var router: Router
    let metrics: ServingMetrics
    /// "METHOD /pattern" of every route added, for the OpenAPI consistency test.
    private(set) var routes: [String] = []

    mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) {
        router.get(pattern, metrics.instrument(route: pattern, handler))
        routes.append("GET \(pattern)")
    }

    /// A route that answers at once, on the connection's event loop (`HTTPImmediateHandler`).
    mutating func getImmediate(_ pattern: String, _ handler: @escaping HTTPImmediateHandler) {
        router.getImmediate(pattern, metrics.instrument(route: pattern, handler))
        routes.append("GET \(pattern)")
    }

    /// `precheck` refusals are answered before the handler (and its metrics) run.
    mutating func post(_ pattern: String, maxBodySize: Int? = nil, precheck: HTTPPrecheck? = nil, _ handler: @escaping HTTPHandler) {
        router.post(pattern, maxBodySize: maxBodySize, precheck: precheck, metrics.instrument(route: pattern, handler))
        routes.append("POST \(pattern)")
    }
}
