import Metrics
import Foundation

/// swift-metrics objects made once per dimension values, then reused.
///
/// Why: `Counter(label:dimensions:)` asks the backend for the metric every time — the Prometheus factory takes its
/// lock, validates and joins the dimensions and looks the metric up by name — and a classify request recorded six
/// that way, a good part of the 50 µs a request may spend outside its queue and model. The objects are what the
/// factory would have returned anyway (it keeps one metric per name and dimensions), so what is counted is the same.
///
/// Nothing is kept while the metrics system is not bootstrapped: an object made then is a no-op for good, and a
/// process (a test run) may bootstrap after its first requests.
final class MetricsCache<Key: Hashable & Sendable, Metric: AnyObject>: @unchecked Sendable {
    private let lock = NSLock()
    private var metrics: [Key: Metric] = [:]
    private var bootstrapped = false
    private let make: @Sendable (Key) -> Metric

    init(_ make: @escaping @Sendable (Key) -> Metric) {
        self.make = make
    }

    func callAsFunction(_ key: Key) -> Metric {
        lock.lock()
        if let metric = metrics[key] {
            lock.unlock()
            return metric
        }
        if !bootstrapped { bootstrapped = !(MetricsSystem.factory is NOOPMetricsHandler) }
        let keep = bootstrapped
        lock.unlock()
        let metric = make(key)
        guard keep else { return metric }
        // Two threads may both make it: the factory hands both the same metric, so either may stay.
        return lock.withLock {
            if let first = metrics[key] { return first }
            metrics[key] = metric
            return metric
        }
    }

    /// How many metrics are kept (for tests).
    var count: Int { lock.withLock { metrics.count } }
}
