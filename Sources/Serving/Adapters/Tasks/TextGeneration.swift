import Engine
import Foundation
import HTTPServer

/// `POST /v1/models/{name}/generate`: prompt → characters, one recurrent step at a time with the
/// state carried between steps, sampled with temperature, top-k and top-p from a seeded generator
/// (the same seed gives the same text). With `"stream": true` or `Accept: text/event-stream` the
/// tokens arrive as Server-Sent Events as they are produced. Concurrent generations of a model share each step
/// (`BatchedGenerator`, `StepBatcher`) unless its config turns that off or its graph can't batch its state.
struct TextGenerationRoutes: Sendable {
    let repository: ModelRepository
    let scheduler: InferenceScheduler
    let batcher: StepBatcher
    let metrics: ServingMetrics

    func register(on router: inout MeteredRouter) {
        router.post("/v1/models/{name}/generate", maxBodySize: 64 << 10) { [self] request in
            try await respondAsync(request) { try await generate(request) }
        }
    }

    private func generate(_ http: HTTPRequest) async throws -> HTTPResponse {
        let model = try repository.model(for: http, task: "text-generation")
        let recurrent = try RecurrentModel(model)
        let request = try GenerateRequest(try http.jsonObject, defaults: model.config.generation, accept: http.headers["Accept"])
        let deadline = try http.deadline()
        let generator: @Sendable ((String) async throws -> Void) async throws -> GenerationResult
        if model.interface.stepBatching {
            let batched = BatchedGenerator(model: recurrent, scheduler: scheduler, batcher: batcher, metrics: metrics,
                                           request: request, deadline: deadline)
            generator = { try await batched.run(onToken: $0) }
        } else {
            let lone = LoneGenerator(model: recurrent, scheduler: scheduler, metrics: metrics, request: request, deadline: deadline)
            generator = { try await lone.run(onToken: $0) }
        }
        if request.stream {
            var response = HTTPResponse.stream(.ok, contentType: "text/event-stream") { writer in
                do {
                    let result = try await generator { token in
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
        let result = try await generator { _ in }
        return .json(.ok, result.json(model))
    }

}
