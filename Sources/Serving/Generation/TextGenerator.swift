/// One generation on a text-generation model, run as its config asks: its steps shared with concurrent generations
/// (`BatchedGenerator`, through the `StepBatcher`) or alone (`LoneGenerator`: `generation.step_batching: false`, or a
/// graph whose state can't batch). Every step is an `InferenceRequest` through the `InferenceCore`, like any other
/// inference. What every protocol that generates (the generate route, gRPC's ModelStreamInfer) calls.
struct TextGenerator: Sendable {
    let core: InferenceCore
    let batcher: StepBatcher

    /// Runs `request` on `model`, handing each token to `onToken` as it comes; `deadline` bounds each step.
    func run(_ request: GenerateRequest, on model: LoadedModel, deadline: Duration?,
             onToken: (String) async throws -> Void) async throws -> GenerationResult {
        let recurrent = try RecurrentModel(model)
        if model.interface.stepBatching {
            return try await BatchedGenerator(model: recurrent, core: core, batcher: batcher, request: request, deadline: deadline)
                .run(onToken: onToken)
        }
        return try await LoneGenerator(model: recurrent, core: core, request: request, deadline: deadline).run(onToken: onToken)
    }
}
