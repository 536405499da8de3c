import Engine
import Foundation
import HTTPServer

/// `POST /v1/models/{name}/generate`: prompt → characters, one recurrent step at a time with the
/// state carried between steps, sampled with temperature, top-k and top-p from a seeded generator
/// (the same seed gives the same text). With `"stream": true` or `Accept: text/event-stream` the
/// tokens arrive as Server-Sent Events as they are produced.
struct TextGenerationRoutes: Sendable {
    let repository: ModelRepository
    let scheduler: InferenceScheduler
    let metrics: ServingMetrics

    func register(on router: inout MeteredRouter) {
        router.post("/v1/models/{name}/generate", maxBodySize: 64 << 10) { [self] request in
            try await respondAsync(request) { try await generate(request) }
        }
    }

    private func generate(_ http: HTTPRequest) async throws -> HTTPResponse {
        let model = try repository.model(for: http, task: "text-generation")
        guard let recurrent = model.config.recurrent, let vocabulary = model.vocabulary else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "config.json lacks \"recurrent\" or a vocabulary")
        }
        let request = try GenerateRequest(try http.jsonObject, defaults: model.config.generation, accept: http.headers["Accept"])
        let generator = Generator(model: model, recurrent: recurrent, vocabulary: vocabulary, scheduler: scheduler,
                                  metrics: metrics, request: request, deadline: try http.deadline())
        if request.stream {
            var response = HTTPResponse.stream(.ok, contentType: "text/event-stream") { writer in
                do {
                    let result = try await generator.run { token in
                        try await writer.write("data: {\"token\":\(TensorJSON.quoted(token))}\n\n")
                    }
                    try await writer.write("event: done\ndata: \(result.json(model))\n\n")
                } catch is ConnectionClosedError {
                    return   // the client went away: stop generating
                } catch {
                    try? await writer.write("event: error\ndata: {\"error\":\(TensorJSON.quoted(ErrorAnswers.httpError(error, for: http).message))}\n\n")
                }
            }
            response.headers.replace(name: "Cache-Control", value: "no-cache")
            return response
        }
        let result = try await generator.run { _ in }
        return .json(.ok, result.json(model))
    }

}

/// One generation: feeds the prompt, then samples and feeds one character at a time.
struct Generator: Sendable {
    let model: LoadedModel
    let recurrent: ModelConfig.Recurrent
    let vocabulary: [String]
    let scheduler: InferenceScheduler
    let metrics: ServingMetrics
    let request: GenerateRequest
    let deadline: Duration?

    struct Result {
        var text: String
        var tokens: Int
        var finishReason: String
        var skipped: Int

        func json(_ model: LoadedModel) -> String {
            #"{"model":\#(TensorJSON.quoted(model.name)),"version":\#(model.version),"text":\#(TensorJSON.quoted(text)),"tokens":\#(tokens),"finish_reason":"\#(finishReason)","unknown_prompt_characters":\#(skipped)}"#
        }
    }

    func run(onToken: (String) async throws -> Void) async throws -> Result {
        let index = Dictionary(vocabulary.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        // Characters the vocabulary lacks are read as spaces, as the model card says (dropped if it has
        // no space either); the answer counts them.
        let space = index[" "]
        let promptIDs = request.prompt.compactMap { index[String($0)] ?? space }
        let skipped = request.prompt.filter { index[String($0)] == nil }.count
        guard !promptIDs.isEmpty else {
            throw ServingError.badRequest("the prompt has no character the model knows (its vocabulary has \(vocabulary.count))")
        }
        var state: [String: Tensor] = [:]
        for entry in recurrent.state {
            guard let info = model.plan.inputs.first(where: { $0.name == entry.input }) else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "config names unknown state input '\(entry.input)'")
            }
            state[entry.input] = Tensor.zeros(.float, shape: (info.shape ?? []).map { $0.fixedValue ?? 1 })
        }
        var random = SplitMix64(seed: request.seed)
        var logits = try await step(promptIDs, state: &state)
        var text = ""
        var produced = 0
        while produced < request.maxTokens {
            let token = sample(logits, &random)
            let character = vocabulary[token]
            text += character
            produced += 1
            try await onToken(character)
            if let stop = request.stop.first(where: { text.hasSuffix($0) }) {
                text.removeLast(min(stop.count, text.count))
                return Result(text: text, tokens: produced, finishReason: "stop", skipped: skipped)
            }
            if produced < request.maxTokens { logits = try await step([token], state: &state) }
        }
        return Result(text: text, tokens: produced, finishReason: "length", skipped: skipped)
    }

    /// Runs tokens [1, T] (or [T, 1]) through the network with the current state; returns the last logits.
    private func step(_ ids: [Int], state: inout [String: Tensor]) async throws -> [Float] {
        let timeMajor = recurrent.layout == "time-first"
        var inputs = state
        inputs[recurrent.tokenInput] = Tensor(shape: timeMajor ? [ids.count, 1] : [1, ids.count], int64s: ids.map(Int64.init))
        let (outputs, timing) = try await scheduler.infer(model, inputs: inputs, deadline: deadline)
        metrics.recordInference(model: model.name, timing: timing)
        for entry in recurrent.state {
            guard let next = outputs[entry.output] else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce state output '\(entry.output)'")
            }
            state[entry.input] = next
        }
        guard let logits = outputs[recurrent.logitsOutput] else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce '\(recurrent.logitsOutput)'")
        }
        let values = logits.floatArray()
        guard !values.isEmpty else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "'\(recurrent.logitsOutput)' is empty")
        }
        return Array(values.suffix(vocabulary.count))
    }

    /// Temperature, then top-k, then top-p (nucleus); temperature 0 is greedy.
    private func sample(_ logits: [Float], _ random: inout SplitMix64) -> Int {
        let count = min(logits.count, vocabulary.count)
        if request.temperature == 0 { return (0..<count).max { logits[$0] < logits[$1] } ?? 0 }
        var order = Array(0..<count).sorted { logits[$0] > logits[$1] }
        if request.topK > 0 { order = Array(order.prefix(request.topK)) }
        let top = Double(logits[order[0]])
        var weights = order.map { exp((Double(logits[$0]) - top) / request.temperature) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        if request.topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count, cumulative < request.topP { cumulative += weights[keep]; keep += 1 }
            order = Array(order.prefix(keep))
            let kept = weights.prefix(keep).reduce(0, +)
            weights = weights.prefix(keep).map { $0 / kept }
        }
        var draw = random.nextUnit()
        for (token, weight) in zip(order, weights) {
            draw -= weight
            if draw < 0 { return token }
        }
        return order.last ?? 0
    }
}
