import Engine

/// A generation that runs its steps alone, one scheduler request per step and never in a batch: how every
/// generation ran before step batching, kept for models that can't step-batch and for `generation.step_batching:
/// false` (the comparison in `bench/serving/generation.py`).
struct LoneGenerator: Sendable {
    let model: RecurrentModel
    let scheduler: InferenceScheduler
    let metrics: ServingMetrics
    let request: GenerateRequest
    /// Per step, as `X-Deadline-Ms` has always bounded each step's run.
    let deadline: Duration?

    func run(onToken: (String) async throws -> Void) async throws -> GenerationResult {
        var progress = try GenerationProgress(request, vocabulary: model.vocabulary)
        var state = try model.initialState()
        var logits = try await step(progress.promptIDs, state: &state)
        while true {
            let (character, outcome) = progress.advance(logits)
            try await onToken(character)
            switch outcome {
            case .finished(let reason): return progress.result(finishReason: reason)
            case .next(let token): logits = try await step([token], state: &state)
            }
        }
    }

    private func step(_ ids: [Int], state: inout [String: Tensor]) async throws -> [Float] {
        let (outputs, timing) = try await scheduler.infer(model.model, inputs: model.inputs(ids, state: state), deadline: deadline,
                                                          batchable: false)
        metrics.recordInference(model: model.model.name, timing: timing)
        let read = try model.read(outputs)
        state = read.state
        return read.logits
    }
}
