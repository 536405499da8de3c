import Engine
import Foundation

/// The step-batched generations of every model: per loaded model version, its lanes (`GenerationLane`), and who
/// joins which. A joining stream goes to the fullest lane with room (`max_batch_size`), and a new lane opens only
/// when every lane is full: lanes of one model run side by side on the workers, but each is as big as it can be.
///
/// Why fill rather than spread over the cores: a step's cost grows far slower than its batch (the LSTM: 0.11 ms at
/// 1 stream, 0.42 ms at 8, 0.56–0.69 ms at 16; the GEMM computes rows in tiles of 6), so one lane of 16 makes more
/// tokens per core-second than two of 8. Two of 8 would win only with both cores idle otherwise; on the project's 2
/// shared cores one lane of 16 measured 11.6 k tokens/s against 8.5 k for two of 8 (16 streams, alternating rounds),
/// and the other core stays free for prompts, handlers and the rest.
final class StepBatcher: @unchecked Sendable {
    private let core: InferenceCore
    private let lock = NSLock()
    /// Per `LoadedModel` (a reloaded version is another object, with lanes of its own); a lane holds its model, so
    /// an identifier here is never reused while its entry exists.
    private var lanes: [ObjectIdentifier: [GenerationLane]] = [:]

    init(core: InferenceCore) {
        self.core = core
    }

    /// Streams in lanes now, per model name (for tests and metrics).
    var activeStreams: [String: Int] {
        lock.withLock {
            var counts: [String: Int] = [:]
            for group in lanes.values { for lane in group { counts[lane.model.model.name, default: 0] += lane.members.count } }
            return counts
        }
    }

    /// How many lanes the model has now.
    func laneCount(of model: LoadedModel) -> Int { lock.withLock { lanes[ObjectIdentifier(model)]?.count ?? 0 } }

    /// Adds a stream whose prompt has run (its `state` and `nextToken` set); it takes part from its lane's next step.
    func join(_ stream: GenerationStream, model: RecurrentModel) {
        let key = ObjectIdentifier(model.model)
        let capacity = max(1, model.model.config.batching?.maxBatchSize ?? 1)
        let started: GenerationLane? = lock.withLock {
            var group = lanes[key] ?? []
            if let lane = group.filter({ $0.members.count < capacity }).max(by: { $0.members.count < $1.members.count }) {
                lane.members.append(stream)
                return nil
            }
            let lane = GenerationLane(model: model, batcher: self, core: core)
            lane.members.append(stream)
            group.append(lane)
            lanes[key] = group
            return lane
        }
        if let started {
            // The loop runs on the workers, as handlers do; it holds the batcher until it ends. It serves many requests,
            // so it must not inherit the joining request's task-locals (its metrics account): each stream keeps its own.
            ServingMetrics.$inferenceTime.withValue(nil) {
                Task(executorPreference: core.scheduler.taskExecutor) { [self] in
                    await started.run()
                    withExtendedLifetime(self) {}
                }
            }
        }
    }

    /// The streams for a lane's next step, after dropping those whose handler stopped listening; nil when none is
    /// left, and then the lane is gone (a stream joining after that opens a new one).
    func streamsForNextStep(of lane: GenerationLane) -> [GenerationStream]? {
        let (streams, dropped): ([GenerationStream]?, [GenerationStream]) = lock.withLock {
            let dropped = lane.members.filter(\.isCancelled)
            lane.members.removeAll(where: \.isCancelled)
            guard lane.members.isEmpty else { return (lane.members, dropped) }
            let key = ObjectIdentifier(lane.model.model)
            lanes[key]?.removeAll { $0 === lane }
            if lanes[key]?.isEmpty == true { lanes[key] = nil }
            return (nil, dropped)
        }
        for stream in dropped { stream.fail(CancellationError()) }
        return streams
    }

    func remove(_ streams: [GenerationStream], from lane: GenerationLane) {
        guard !streams.isEmpty else { return }
        lock.withLock { lane.members.removeAll { member in streams.contains { $0 === member } } }
    }
}
