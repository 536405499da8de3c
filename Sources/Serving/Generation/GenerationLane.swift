import Dispatch
import Engine
import Foundation

/// Iteration-level scheduling (Orca) for one model: a lane holds up to `max_batch_size` streams and runs one loop.
/// Each turn of the loop is one step for all of them: it drops the streams whose client left, joins their last
/// tokens into one batch with their state (which stays batched between steps), runs it as ONE scheduler request, and
/// lets each stream sample its next token from its row of the logits, with its own parameters and generator. Streams
/// join (`StepBatcher.join`) and leave (finished, stopped, cancelled, failed) between steps; the loop ends when its
/// last stream has left.
///
/// A step that throws fails every stream in it, each with that step's error (its class decides the status: 504 past
/// the deadline, 413 over the memory cap, 503 shutting down, 500 the model's own failure): a batch of an RNN step
/// shares every node, so there is no single culprit to blame and nothing a retry alone would do differently.
final class GenerationLane: @unchecked Sendable {
    let model: RecurrentModel
    /// Guarded by the batcher's lock: the streams taking part from the next step on.
    var members: [GenerationStream] = []

    private unowned let batcher: StepBatcher
    private let core: InferenceCore
    /// The streams of the last step, in row order, and the state it produced for them (see `stateBatch`). Only the
    /// lane's loop touches it.
    private var resident: (streams: [GenerationStream], state: [String: Tensor])?

    init(model: RecurrentModel, batcher: StepBatcher, core: InferenceCore) {
        self.model = model
        self.batcher = batcher
        self.core = core
    }

    /// The loop; returns once the lane is empty (and the batcher has forgotten it).
    func run() async {
        while let streams = batcher.streamsForNextStep(of: self) {
            let finished = await step(streams)
            batcher.remove(finished, from: self)
        }
    }

    /// One step for `streams`; returns those that left (finished or failed).
    private func step(_ streams: [GenerationStream]) async -> [GenerationStream] {
        let start = ContinuousClock.now
        do {
            var inputs = try stateBatch(for: streams)
            inputs[model.recurrent.tokenInput] = try model.tokenBatch(streams.map(\.nextToken))
            let longest = streams.map(\.stepDeadline).max() ?? .seconds(30)
            // Not batchable: the lane's step is the batch already. Merged with another lane's step it would tie the two
            // lanes together, where apart they run side by side on two workers.
            let result = try await model.step(inputs, on: core, deadline: longest, batchable: false)
            resident = (streams, try model.nextState(result.named, streams: streams.count))
            let logits = try model.logitRows(result.named, streams: streams.count)
            let took = ContinuousClock.now - start
            var left: [GenerationStream] = []
            for (stream, row) in zip(streams, logits) {
                // The batch ran for the stream with the longest deadline; one with a shorter one fails as a lone step
                // that slow would have.
                guard took <= stream.stepDeadline else {
                    stream.fail(ServingError.deadlineExceeded(model: model.model.name, milliseconds: Self.milliseconds(took)))
                    left.append(stream)
                    continue
                }
                stream.record(result.timing)
                if !stream.advance(row) { left.append(stream) }
            }
            return left
        } catch {
            resident = nil
            for stream in streams { stream.fail(error) }
            return streams
        }
    }

    /// The state inputs of a step for `streams`, joined along their batch axes. While the lane's streams stay the same
    /// and in the same order (most steps: a stream of 200 tokens joins once and leaves once), that is the state the
    /// last step produced, as it is. Otherwise the last batch is cut into rows, the rows of the streams that stayed are
    /// kept, the joining streams' own states (from their prompts) are added, and all are joined again.
    ///
    /// Why the state stays batched: cutting h and c into one tensor per stream after every step and joining them before
    /// the next cost more than sampling (a few % of a step-batched server each, most of it allocation), for a batch
    /// that had not changed. This is what LLM servers do with their KV caches.
    private func stateBatch(for streams: [GenerationStream]) throws -> [String: Tensor] {
        if let resident, resident.streams.count == streams.count,
           zip(resident.streams, streams).allSatisfy({ $0 === $1 }) {
            return resident.state
        }
        var rows: [ObjectIdentifier: [String: Tensor]] = [:]
        if let resident {
            let cut = try model.unbatchState(resident.state, streams: resident.streams.count)
            for (stream, state) in zip(resident.streams, cut) { rows[ObjectIdentifier(stream)] = state }
        }
        let states = streams.map { stream in
            let state = rows[ObjectIdentifier(stream)] ?? stream.state
            // From here on the lane holds the stream's state; the copy from its prompt is no longer read.
            stream.state = [:]
            return state
        }
        guard states.allSatisfy({ !$0.isEmpty }) else {
            throw ServingError.modelMisconfigured(model: model.model.name, reason: "a stream joined a lane without a state")
        }
        return try model.batch(states)
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(clamping: seconds.multipliedReportingOverflow(by: 1000).partialValue + attoseconds / 1_000_000_000_000_000)
    }
}
