import Engine

/// A generation that runs its steps alone, one scheduler request per step and never in a batch: how every
/// generation ran before step batching, kept for models that can't step-batch and for `generation.step_batching:
/// false` (the comparison in `bench/serving/generation.py`).
struct LoneGenerator: Sendable {
    let model: RecurrentModel
    let core: InferenceCore
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
        let result = try await model.step(model.inputs(ids, state: state), on: core, deadline: deadline, batchable: false)
        let read = try model.read(result.named)
        state = read.state
        return read.logits
    }
}
