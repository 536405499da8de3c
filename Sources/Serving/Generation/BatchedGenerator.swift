import Engine

/// A generation that shares its steps: its prompt runs as a request of its own (prompts of equal length that are
/// queued together share a run, as any requests do), then the stream joins a lane of the `StepBatcher` and reads
/// its tokens as the lane produces them.
///
/// Why the prompt runs outside the lane: a prompt is up to 4096 time steps, and inside the lane's batch it would hold
/// every other stream's next token for that long; outside, it runs on whichever worker is free while the lane keeps
/// stepping, and the stream joins at the lane's next step.
struct BatchedGenerator: Sendable {
    let model: RecurrentModel
    let core: InferenceCore
    let batcher: StepBatcher
    let request: GenerateRequest
    let deadline: Duration?

    func run(onToken: (String) async throws -> Void) async throws -> GenerationResult {
        let progress = try GenerationProgress(request, vocabulary: model.vocabulary)
        let stepDeadline = deadline ?? core.defaultDeadline
        let (events, continuation) = AsyncThrowingStream.makeStream(of: GenerationStream.Event.self, throwing: Error.self)
        let stream = GenerationStream(progress: progress, stepDeadline: stepDeadline, wantsTokens: request.stream,
                                      events: continuation)
        // The handler stopped reading (done, failed, or its task cancelled when the client went away): the lane
        // drops the stream before its next step.
        continuation.onTermination = { _ in stream.cancel() }
        defer { stream.cancel() }

        let prompt = try await model.step(model.inputs(progress.promptIDs, state: try model.initialState()), on: core,
                                          deadline: stepDeadline)
        let read = try model.read(prompt.named)
        stream.state = read.state
        if stream.advance(read.logits) { batcher.join(stream, model: model) }

        for try await event in events {
            switch event {
            case .token(let character): try await onToken(character)
            case .done(let result): return result
            }
        }
        // The sequence ended without a result: only cancellation ends it so.
        throw CancellationError()
    }
}
