import Engine
import Foundation
import HTTPServer

/// The KServe V2 / Open Inference Protocol over HTTP, for every model, with JSON or raw binary tensors: a thin
/// adapter from its URLs and bodies to `InferenceCore` and back.
struct KServeRoutes: Sendable {
    let core: InferenceCore
    var repository: ModelRepository { core.repository }

    static let extensions = ["model_repository", "binary_tensor_data"]

    func register(on router: inout MeteredRouter) {
        // Everything but inference answers at once from memory, on the connection's event loop.
        router.getImmediate("/v2") { _ in
            try .json(encoding: V2Answers.ServerMetadata(name: "deepserve", version: ServingService.version, extensions: Self.extensions))
        }
        let live = HTTPResponse.constantJSON(V2Answers.Live(live: true))
        router.getImmediate("/v2/health/live") { _ in live }
        router.getImmediate("/v2/health/ready") { [repository] _ in
            try .json(repository.isReady ? .ok : .serviceUnavailable, encoding: V2Answers.Ready(ready: repository.isReady))
        }
        for prefix in ["/v2/models/{name}", "/v2/models/{name}/versions/{version}"] {
            router.getImmediate(prefix) { [self] request in
                try respond(request) { try .json(encoding: V2Answers.ModelMetadata(core.metadata(of: try core.model(for: request)))) }
            }
            router.getImmediate(prefix + "/ready") { [self] request in
                try respond(request) {
                    // A model that should be serving but failed to load is reported as not ready (its reason is in
                    // the control API's repository index), not as unknown.
                    let name = request.pathParameters["name"] ?? ""
                    if request.pathParameters["version"] == nil, repository.unavailable.contains(name) {
                        return try .json(.serviceUnavailable, encoding: V2Answers.Ready(name: name, ready: false))
                    }
                    let model = try core.model(for: request)
                    return try .json(encoding: V2Answers.Ready(name: model.name, ready: true))
                }
            }
            router.post(prefix + "/infer") { [self] request in try await respondAsync(request) { try await infer(request) } }
        }
    }

    private func infer(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try core.model(for: request)
        let decoded = try V2InferRequest(model: model.name, version: request.pathParameters["version"], body: request.body,
                                         contentType: request.headers["Content-Type"],
                                         headerLength: request.headers[InferenceBody.headerLengthField],
                                         deadline: try request.deadline())
        let result = try await core.infer(decoded.request, on: model)
        // Outputs come back as JSON data, or as raw bytes after the JSON header when asked.
        var binaryTail: [UInt8] = []
        let outputs = result.outputs.map { output -> V2Answers.OutputTensor in
            let tensor = output.tensor
            var answer = V2Answers.OutputTensor(name: output.name, datatype: TensorJSON.datatype(tensor.dataType), shape: tensor.shape)
            if decoded.isBinary(output.name) {
                let bytes = tensor.data
                binaryTail += bytes
                answer.parameters = .init(binary_data_size: bytes.count)
            } else {
                answer.data = JSONTensorData(tensor: tensor)
            }
            return answer
        }
        let answer = V2Answers.InferResponse(model_name: result.model, model_version: String(result.version), id: result.id,
                                             outputs: outputs)
        let json = try JSONAnswer.bytes(answer)
        guard outputs.contains(where: { $0.parameters != nil }) else {
            return HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: .bytes(json))
        }
        return HTTPResponse(status: .ok,
                            headers: ["Content-Type": "application/octet-stream", InferenceBody.headerLengthField: String(json.count)],
                            body: .bytes(json + binaryTail))
    }
}
