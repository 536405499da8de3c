import Dispatch
import HTTPServer
import Metrics

/// What the serving layer reports through swift-metrics (the executable bootstraps the Prometheus
/// backend and serves it at /metrics): requests by route and status with their latency, and per
/// model the requests, executions (so the batch size shows), queue and compute time, queue depth
/// and the version loaded.
struct ServingMetrics: Sendable {
    /// Wraps a handler so each answer is counted by route pattern and status, and timed.
    func instrument(route: String, _ handler: @escaping HTTPHandler) -> HTTPHandler {
        { request in
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let response = try await handler(request)
                Self.record(route: route, status: response.status.code, since: start)
                return response
            } catch {
                Self.record(route: route, status: (error as? HTTPError)?.status.code ?? 500, since: start)
                throw error
            }
        }
    }

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

    private static func record(route: String, status: Int, since start: UInt64) {
        Counter(label: "deepserve_http_requests_total", dimensions: [("route", route), ("status", String(status))]).increment()
        Timer(label: "deepserve_http_request_duration_seconds", dimensions: [("route", route)])
            .recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
    }

    /// One request answered by a model, with the time it queued and the time its batch computed.
    func recordInference(model: String, timing: InferenceScheduler.Timing) {
        Counter(label: "deepserve_inference_requests_total", dimensions: [("model", model)]).increment()
        Timer(label: "deepserve_inference_queue_seconds", dimensions: [("model", model)])
            .recordNanoseconds(Int64(timing.queueSeconds * 1e9))
    }

    /// One execution of a model (a batch of `rows`, from `requests` requests).
    static func recordExecution(model: String, rows: Int, requests: Int, computeSeconds: Double) {
        Counter(label: "deepserve_inference_executions_total", dimensions: [("model", model)]).increment()
        Counter(label: "deepserve_inference_rows_total", dimensions: [("model", model)]).increment(by: rows)
        Recorder(label: "deepserve_inference_batch_requests", dimensions: [("model", model)], aggregate: true).record(requests)
        Timer(label: "deepserve_inference_compute_seconds", dimensions: [("model", model)])
            .recordNanoseconds(Int64(computeSeconds * 1e9))
    }

    /// Gauges read at scrape time: queue depth and loaded version per model.
    func refreshGauges(repository: ModelRepository, scheduler: InferenceScheduler) {
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

    /// A route that answers at once, on the connection's queue (`HTTPImmediateHandler`).
    mutating func getImmediate(_ pattern: String, _ handler: @escaping HTTPImmediateHandler) {
        router.getImmediate(pattern, metrics.instrument(route: pattern, handler))
        routes.append("GET \(pattern)")
    }

    mutating func post(_ pattern: String, maxBodySize: Int? = nil, _ handler: @escaping HTTPHandler) {
        router.post(pattern, maxBodySize: maxBodySize, metrics.instrument(route: pattern, handler))
        routes.append("POST \(pattern)")
    }
}
