import Engine
import Foundation

/// The step-batched generations of every model: per loaded model version, its lanes (`GenerationLane`), and who
/// joins which. A model gets as many lanes as the scheduler has cores for its runs (workers ÷ its intra-op threads),
/// opened as streams arrive, and a joining stream goes to the emptiest lane with room (`max_batch_size`); a lane
/// beyond that count opens only when every lane is full.
///
/// Why spread over the cores before filling: each lane is one serial loop, so one lane computes on one core however
/// many streams it holds. A step's cost grows far slower than its batch (the LSTM, one thread: 0.12 ms at 1 stream,
/// 0.34 ms at 8, 0.61 ms at 16), but not so slowly that one core at batch 16 beats two at batch 8: on 2 cores at 16
/// streams, two lanes of 8 made 28.2 k tokens/s against 17.8 k for one lane of 16 (alternating rounds, quiet host).
/// The branch that built step batching measured the opposite on a host loaded 3× over by other builds, where a second lane only competes for
/// a core that isn't free; a serving machine is sized for its own load, so the lanes follow the workers.
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

    /// Lanes that run side by side without waiting for each other's cores: the workers, over the threads each step of
    /// the model computes on.
    private func laneTarget(for model: LoadedModel) -> Int {
        let settings = core.scheduler.settings
        let threads = max(1, model.config.intraOpThreads ?? settings.intraOpThreads)
        return max(1, settings.workers / threads)
    }

    /// How many lanes the model has now.
    func laneCount(of model: LoadedModel) -> Int { lock.withLock { lanes[ObjectIdentifier(model)]?.count ?? 0 } }

    /// Adds a stream whose prompt has run (its `state` and `nextToken` set); it takes part from its lane's next step.
    func join(_ stream: GenerationStream, model: RecurrentModel) {
        let key = ObjectIdentifier(model.model)
        let capacity = max(1, model.model.config.batching?.maxBatchSize ?? 1)
        let started: GenerationLane? = lock.withLock {
            var group = lanes[key] ?? []
            if group.count >= laneTarget(for: model.model),
               let lane = group.filter({ $0.members.count < capacity }).min(by: { $0.members.count < $1.members.count }) {
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
