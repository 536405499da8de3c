import Dispatch
import Engine
import Foundation

/// Iteration-level scheduling (Orca) for one model: a lane holds up to `max_batch_size` streams and runs one loop.
/// Each turn of the loop is one step for all of them: it drops the streams whose client left, gathers every
/// stream's last token and state into one batch along their batch axes, runs it as ONE scheduler request, cuts the
/// outputs back per stream and lets each sample its next token with its own parameters and generator. Streams join
/// (`StepBatcher.join`) and leave (finished, stopped, cancelled, failed) between steps; the loop ends when its last
/// stream has left.
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
            let inputs = try model.batch(streams.map { model.inputs([$0.nextToken], state: $0.state) })
            let longest = streams.map(\.stepDeadline).max() ?? .seconds(30)
            // Not batchable: the lane's step is the batch already. Merged with another lane's step it would tie the two
            // lanes together, where apart they run side by side on two workers.
            let result = try await model.step(inputs, on: core, deadline: longest, batchable: false)
            let parts = try model.unbatch(result.named, streams: streams.count)
            let took = ContinuousClock.now - start
            var left: [GenerationStream] = []
            for (stream, part) in zip(streams, parts) {
                // The batch ran for the stream with the longest deadline; one with a shorter one fails as a lone step
                // that slow would have.
                guard took <= stream.stepDeadline else {
                    stream.fail(ServingError.deadlineExceeded(model: model.model.name, milliseconds: Self.milliseconds(took)))
                    left.append(stream)
                    continue
                }
                let read = try model.read(part)
                stream.record(result.timing)
                stream.state = read.state
                if !stream.advance(read.logits) { left.append(stream) }
            }
            return left
        } catch {
            for stream in streams { stream.fail(error) }
            return streams
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(clamping: seconds.multipliedReportingOverflow(by: 1000).partialValue + attoseconds / 1_000_000_000_000_000)
    }
}
