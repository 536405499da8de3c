import Foundation
import Metrics
import Synchronization

/// Metric updates held back while a worker thread answers requests, and applied once it has nothing else to do.
///
/// Why: a classify request makes eight metric updates (counters, histograms) — on a worker that has just run a model,
/// with its caches full of the model's weights, about 7 µs, all of it between the network finishing and the answer
/// leaving. Held in the worker's buffer (a small enum per update) they are applied when the worker next waits for
/// work, after the answer is written; under constant load, every `flushThreshold` updates. A scrape of /metrics
/// first applies every buffer (`flushAll`), so it reports each request that was answered before it, as before.
/// Threads that are not workers (the event loops, tests calling the metrics directly) apply their updates at once.
enum DeferredMetrics {
    enum Update {
        case request(route: String, status: Int, nanoseconds: Int64, overheadNanoseconds: Int64?)
        case inference(model: String, queueNanoseconds: Int64)
        case execution(model: String, rows: Int, requests: Int, computeNanoseconds: Int64)
    }

    /// One worker thread's held updates.
    final class Buffer: @unchecked Sendable {
        private let lock = NSLock()
        private var updates: [Update] = []

        /// Holds `update`; applies everything held once `flushThreshold` updates are.
        func append(_ update: Update) {
            let full = lock.withLock {
                updates.append(update)
                return updates.count >= DeferredMetrics.flushThreshold
            }
            if full { flush() }
        }

        /// Whether any update is held.
        var isEmpty: Bool { lock.withLock { updates.isEmpty } }

        /// Applies (and forgets) every update held so far. The backend's metrics are thread-safe, so two flushes at
        /// once (a scrape and the worker) may both apply, each its own share.
        func flush() {
            let taken: [Update] = lock.withLock {
                guard !updates.isEmpty else { return [] }
                defer { updates.removeAll(keepingCapacity: true) }
                return updates
            }
            for update in taken { DeferredMetrics.apply(update) }
        }
    }

    static let flushThreshold = 64

    /// Applies `update` now, or holds it in the calling worker's buffer.
    static func submit(_ update: Update) {
        if let buffer = current { buffer.append(update) } else { apply(update) }
    }

    /// Applies every worker's held updates (before a scrape renders the metrics).
    static func flushAll() {
        for buffer in registry.withLock({ Array($0.values) }) { buffer.flush() }
    }

    /// Makes `buffer` the calling thread's until `body` returns (a worker's whole life), then applies what it holds.
    static func holding(in buffer: Buffer, _ body: () -> Void) {
        let id = ObjectIdentifier(buffer)
        registry.withLock { $0[id] = buffer }
        current = buffer
        body()
        current = nil
        registry.withLock { $0[id] = nil }
        buffer.flush()
    }

    private static let registry = Mutex<[ObjectIdentifier: Buffer]>([:])

    private static var current: Buffer? {
        get { slot.value }
        set { slot.value = newValue }
    }
    private static let slot = ThreadLocalReference<Buffer>()

    private static func apply(_ update: Update) {
        typealias Handles = ServingMetrics.Handles
        switch update {
        case let .request(route, status, nanoseconds, overhead):
            Handles.requests(ServingMetrics.RouteStatus(route: route, status: status)).increment()
            Handles.durations(route).recordNanoseconds(nanoseconds)
            if let overhead { Handles.overheads(route).recordNanoseconds(overhead) }
        case let .inference(model, queueNanoseconds):
            Handles.inferences(model).increment()
            Handles.queueTimes(model).recordNanoseconds(queueNanoseconds)
        case let .execution(model, rows, requests, computeNanoseconds):
            Handles.executions(model).increment()
            Handles.rows(model).increment(by: rows)
            Handles.batchRequests(model).record(requests)
            Handles.computeTimes(model).recordNanoseconds(computeNanoseconds)
        }
    }
}
