import Engine
import Foundation
import HTTPServer

/// `POST /v1/models/{name}/generate`: prompt → characters, one recurrent step at a time with the
/// state carried between steps, sampled with temperature, top-k and top-p from a seeded generator
/// (the same seed gives the same text). With `"stream": true` or `Accept: text/event-stream` the
/// tokens arrive as Server-Sent Events as they are produced. The steps run through the inference core
/// (`TextGenerator`), shared with concurrent generations of the model unless its config turns that off.
struct TextGenerationRoutes: Sendable {
    let generator: TextGenerator
    var core: InferenceCore { generator.core }

    func register(on router: inout MeteredRouter) {
        router.post("/v1/models/{name}/generate", maxBodySize: 64 << 10) { [self] request in
            try await respondAsync(request) { try await generate(request) }
        }
    }

    private func generate(_ http: HTTPRequest) async throws -> HTTPResponse {
        let model = try core.model(for: http, task: "text-generation")
        let request = try GenerateRequest(try http.jsonObject, defaults: model.config.generation, accept: http.headers["Accept"])
        let deadline = try http.deadline()
        if request.stream {
            var response = HTTPResponse.stream(.ok, contentType: "text/event-stream") { [generator] writer in
                do {
                    let result = try await generator.run(request, on: model, deadline: deadline) { token in
                        try await writer.write(try ServerSentEvent.bytes(GenerateAnswers.Token(token: token)))
                    }
                    try await writer.write(try ServerSentEvent.bytes(GenerateAnswers.Finished(result, model: model), event: "done"))
                } catch is ConnectionClosedError {
                    return   // the client went away: stop generating
                } catch {
                    let message = ErrorAnswers.httpError(error, for: http).message
                    try? await writer.write(try ServerSentEvent.bytes(GenerateAnswers.Failure(error: message), event: "error"))
                }
            }
            response.headers.replace(name: "Cache-Control", value: "no-cache")
            return response
        }
        let result = try await generator.run(request, on: model, deadline: deadline) { _ in }
        return try .json(encoding: GenerateAnswers.Finished(result, model: model))
    }
}
