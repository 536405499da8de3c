import Foundation
import InferenceGRPC

/// One streamed generation over gRPC (ModelStreamInfer), in the shape of Triton's decoupled LLM models: the prompt in
/// `text_input` (BYTES, shape [1]), the sampling settings as request parameters (`max_tokens`, `temperature`,
/// `top_k`, `top_p`, `seed`, `stop`, checked as the generate route checks them), and one response per token with
/// `text_output` (BYTES [1]). The last token's response carries `triton_final_response: true` and `finish_reason`;
/// with `triton_enable_empty_final_response` (tritonclient's `enable_empty_final_response=True`) every token's
/// response says false and an empty response with true follows, as Triton sends it.
struct GRPCTextGeneration {
    static let promptInput = "text_input"
    static let tokenOutput = "text_output"
    static let settings = ["max_tokens", "temperature", "top_k", "top_p", "seed", "stop"]

    let message: Inference_ModelInferRequest
    let model: LoadedModel
    let request: GenerateRequest
    /// Whether the client sent raw contents (then the tokens go back raw, as for ModelInfer).
    let raw: Bool
    let emptyFinalResponse: Bool

    /// Whether `message` asks `model` for a generation rather than one inference of its graph.
    static func isGeneration(_ message: Inference_ModelInferRequest, for model: LoadedModel) -> Bool {
        model.config.task == "text-generation" && message.inputs.contains { $0.name == promptInput }
    }

    init(_ message: Inference_ModelInferRequest, model: LoadedModel) throws {
        // "stream": every token is wanted as it comes.
        var body: [String: Any] = ["prompt": try Self.prompt(of: message), "stream": NSNumber(value: true)]
        for key in Self.settings {
            if let parameter = message.parameters[key] { body[key] = Self.value(parameter) }
        }
        self.message = message
        self.model = model
        request = try GenerateRequest(body, defaults: model.config.generation, accept: nil)
        raw = !message.rawInputContents.isEmpty
        if case .boolParam(true)? = message.parameters["triton_enable_empty_final_response"]?.parameterChoice {
            emptyFinalResponse = true
        } else {
            emptyFinalResponse = false
        }
    }

    /// Generates, handing `send` each response as its token comes (the last one held until the generation ends, so
    /// that it can say it is the last).
    func run(_ generator: TextGenerator, deadline: Duration?,
             send: (Inference_ModelInferResponse) async throws -> Void) async throws {
        var held: String?
        let result = try await generator.run(request, on: model, deadline: deadline) { token in
            if emptyFinalResponse {
                try await send(response(token: token, final: false, finishReason: nil))
            } else {
                if let previous = held { try await send(response(token: previous, final: false, finishReason: nil)) }
                held = token
            }
        }
        try await send(response(token: emptyFinalResponse ? nil : held, final: true, finishReason: result.finishReason))
    }

    private func response(token: String?, final: Bool, finishReason: String?) -> Inference_ModelInferResponse {
        var answer = Inference_ModelInferResponse()
        answer.modelName = model.name
        answer.modelVersion = String(model.version)
        answer.id = message.id
        var flag = Inference_InferParameter()
        flag.boolParam = final
        answer.parameters["triton_final_response"] = flag
        if let finishReason {
            var reason = Inference_InferParameter()
            reason.stringParam = finishReason
            answer.parameters["finish_reason"] = reason
        }
        guard let token else { return answer }
        var output = Inference_ModelInferResponse.InferOutputTensor()
        output.name = Self.tokenOutput
        output.datatype = "BYTES"
        output.shape = [1]
        let bytes = Data(token.utf8)
        if raw {
            // Triton's BYTES serialisation: each element a 4-byte little-endian length, then its bytes.
            var length = UInt32(bytes.count).littleEndian   // a token is one character: far below 2^32 bytes
            answer.rawOutputContents = [Data(bytes: &length, count: 4) + bytes]
        } else {
            var contents = Inference_InferTensorContents()
            contents.bytesContents = [bytes]
            output.contents = contents
        }
        answer.outputs = [output]
        return answer
    }

    /// The prompt: the request's only input, `text_input`, one element of BYTES as UTF-8.
    static func prompt(of message: Inference_ModelInferRequest) throws -> String {
        guard message.inputs.count == 1, message.inputs[0].name == promptInput else {
            throw ServingError.badRequest("a generation takes one input, '\(promptInput)' (BYTES, shape [1]); got \(message.inputs.count) inputs (\(message.inputs.map { String($0.name.prefix(64)) }.joined(separator: ", ")))")
        }
        return try GRPCTensors.text(message.inputs[0], raw: message.rawInputContents.first, rawCount: message.rawInputContents.count)
    }

    /// A request parameter as the generate route's JSON decoder would have read it (numbers as `NSNumber`).
    private static func value(_ parameter: Inference_InferParameter) -> Any {
        switch parameter.parameterChoice {
        case .boolParam(let flag): NSNumber(value: flag)
        case .int64Param(let number): NSNumber(value: number)
        case .uint64Param(let number): NSNumber(value: number)
        case .doubleParam(let number): NSNumber(value: number)
        case .stringParam(let text): text
        case nil: NSNull()
        }
    }
}
