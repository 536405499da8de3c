import Dispatch
import Engine
import Foundation

/// One generation while it shares steps with others: its progress, its state between steps, and the channel its
/// handler reads (tokens, then the result or an error). Whoever runs its steps — its handler for the prompt, then
/// one `GenerationLane` — owns `progress`, `state` and `nextToken`; never two at once (a stream joins its lane after
/// its handler last touched them, and the lane is a single task).
final class GenerationStream: @unchecked Sendable {
    enum Event: Sendable {
        case token(String)
        case done(GenerationResult)
    }

    var progress: GenerationProgress
    var state: [String: Tensor] = [:]
    var nextToken = 0
    /// How long one step may take from being queued to its result (`X-Deadline-Ms`, per step as it always was).
    let stepDeadline: Duration
    /// Whether the handler wants each token (a streaming answer) or only the result.
    let wantsTokens: Bool
    private let events: AsyncThrowingStream<Event, Error>.Continuation
    private let lock = NSLock()
    private var cancelledFlag = false
    /// The request's queue-and-compute account (overhead metric): the lane's steps are this request's inference.
    private let requestTime = ServingMetrics.inferenceTime

    init(progress: GenerationProgress, stepDeadline: Duration, wantsTokens: Bool,
         events: AsyncThrowingStream<Event, Error>.Continuation) {
        self.progress = progress
        self.stepDeadline = stepDeadline
        self.wantsTokens = wantsTokens
        self.events = events
    }

    /// Set when the handler stops listening (its client went away, its task was cancelled): the lane drops the
    /// stream before its next step.
    var isCancelled: Bool { lock.withLock { cancelledFlag } }
    func cancel() { lock.withLock { cancelledFlag = true } }

    /// Feeds one step's logits; returns whether the stream goes on (then `nextToken` is set).
    func advance(_ logits: [Float]) -> Bool {
        let (character, outcome) = progress.advance(logits)
        if wantsTokens { events.yield(.token(character)) }
        switch outcome {
        case .next(let token):
            nextToken = token
            return true
        case .finished(let reason):
            events.yield(.done(progress.result(finishReason: reason)))
            events.finish()
            return false
        }
    }

    func fail(_ error: Error) { events.finish(throwing: error) }

    /// Counts a shared step's queue and compute time as this request's (before `advance`, which may end the request).
    func record(_ timing: InferenceScheduler.Timing) {
        guard let requestTime else { return }
        requestTime.nanoseconds += Int64((timing.queueSeconds + timing.computeSeconds) * 1e9)
        requestTime.runs += 1
    }
}
