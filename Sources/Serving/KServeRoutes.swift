import Engine
import Foundation
import HTTPServer

/// The KServe V2 / Open Inference Protocol endpoints, for every model, with raw tensors.
struct KServeRoutes: Sendable {
    let repository: ModelRepository
    let scheduler: InferenceScheduler
    let metrics: ServingMetrics

    func register(on router: inout MeteredRouter) {
        // Everything but inference answers at once from memory, on the connection's queue.
        router.getImmediate("/v2") { _ in
            .json(.ok, #"{"name":"deepserve","version":"\#(ServingService.version)","extensions":["model_repository","binary_tensor_data"]}"#)
        }
        router.getImmediate("/v2/health/live") { _ in .json(.ok, #"{"live":true}"#) }
        router.getImmediate("/v2/health/ready") { [repository] _ in
            repository.isReady ? .json(.ok, #"{"ready":true}"#) : .json(.serviceUnavailable, #"{"ready":false}"#)
        }
        for prefix in ["/v2/models/{name}", "/v2/models/{name}/versions/{version}"] {
            router.getImmediate(prefix) { [self] request in try respond(request) { metadata(try repository.model(for: request)) } }
            router.getImmediate(prefix + "/ready") { [self] request in
                try respond(request) {
                    // A model that should be serving but failed to load is reported as not ready (its reason is in
                    // the control API's repository index), not as unknown.
                    let name = request.pathParameters["name"] ?? ""
                    if request.pathParameters["version"] == nil, repository.unavailable.contains(name) {
                        return .json(.serviceUnavailable, #"{"name":\#(TensorJSON.quoted(name)),"ready":false}"#)
                    }
                    let model = try repository.model(for: request)
                    return .json(.ok, #"{"name":\#(TensorJSON.quoted(model.name)),"ready":true}"#)
                }
            }
            router.post(prefix + "/infer") { [self] request in try await respondAsync(request) { try await infer(request) } }
        }
    }

    /// A JSON object field, nil when absent or null; anything else is refused naming the field.
    private static func object(_ value: Any?, field: String) throws -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else {
            throw ServingError.invalidField(field: field, expected: "an object", got: ClientNumber.describe(value))
        }
        return object
    }

    private func metadata(_ model: LoadedModel) -> HTTPResponse {
        func specs(_ values: [ValueInfo]) -> String {
            values.map { value in
                let shape = (value.shape ?? []).map { $0.fixedValue.map(String.init) ?? "-1" }.joined(separator: ",")
                let type = value.dataType.map(TensorJSON.datatype) ?? "UNKNOWN"
                return #"{"name":\#(TensorJSON.quoted(value.name)),"datatype":"\#(type)","shape":[\#(shape)]}"#
            }.joined(separator: ",")
        }
        let versions = repository.versions(of: model.name).map { "\"\($0)\"" }.joined(separator: ",")
        return .json(.ok, #"{"name":\#(TensorJSON.quoted(model.name)),"versions":[\#(versions)],"platform":"onnx","inputs":[\#(specs(model.plan.inputs))],"outputs":[\#(specs(model.plan.outputs))]}"#)
    }

    private func infer(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try repository.model(for: request)
        let (header, tail) = try InferenceBody.split(request.body, headerLength: request.headers[InferenceBody.headerLengthField])
        let body = try JSONBody.object(bytes: header, contentType: tail == nil ? request.headers["Content-Type"] : nil)
        guard let inputObjects = body["inputs"] as? [Any], !inputObjects.isEmpty else {
            throw ServingError.badRequest("the request needs an \"inputs\" array")
        }
        // The cheap fields first: a malformed request is refused before any tensor is decoded. Outputs come back as
        // JSON data, or as raw bytes after the JSON header when asked (per output `parameters.binary_data`, or for all
        // with the request's `parameters.binary_data_output`).
        let parameters = try Self.object(body["parameters"], field: "parameters")
        if let id = body["id"], !(id is NSNull), !(id is String) {
            throw ServingError.invalidField(field: "id", expected: "a string", got: ClientNumber.describe(id))
        }
        let allBinary = try ClientNumber.bool(parameters?["binary_data_output"], field: "parameters.binary_data_output") ?? false
        var wanted = model.plan.outputs.map { (name: $0.name, binary: allBinary) }
        if let requested = body["outputs"], !(requested is NSNull) {
            guard let objects = requested as? [[String: Any]] else {
                throw ServingError.invalidField(field: "outputs", expected: "an array of objects with a \"name\"", got: ClientNumber.describe(requested))
            }
            wanted = try objects.map { object in
                guard let name = object["name"] as? String, model.plan.outputs.contains(where: { $0.name == name }) else {
                    throw ServingError.badRequest("requested output \(ClientNumber.describe(object["name"] ?? NSNull())) is not an output of '\(model.name)'")
                }
                let parameters = try Self.object(object["parameters"], field: "outputs[\(name)].parameters")
                let binary = try ClientNumber.bool(parameters?["binary_data"], field: "outputs[\(name)].parameters.binary_data")
                return (name, binary ?? allBinary)
            }
        }
        var binary = BinaryTensorData(tail ?? [])
        var inputs: [String: Tensor] = [:]
        for object in inputObjects {
            let (name, tensor) = try TensorJSON.decode(object, binary: &binary)
            guard inputs.updateValue(tensor, forKey: name) == nil else { throw ServingError.badRequest("input '\(name)' is given twice") }
        }
        guard binary.remaining == 0 else {
            throw ServingError.badRequest("\(binary.remaining) bytes of binary data follow the JSON header that no input's binary_data_size claims")
        }
        let (outputs, timing) = try await scheduler.infer(model, inputs: inputs, deadline: try request.deadline())
        metrics.recordInference(model: model.name, timing: timing)
        let id = (body["id"] as? String).map { #","id":\#(TensorJSON.quoted($0))"# } ?? ""
        var binaryTail: [UInt8] = []
        let encoded = wanted.compactMap { output -> String? in
            guard let tensor = outputs[output.name] else { return nil }
            guard output.binary else { return TensorJSON.encode(name: output.name, tensor) }
            binaryTail += tensor.data
            return TensorJSON.encodeBinaryHeader(name: output.name, tensor)
        }.joined(separator: ",")
        let json = #"{"model_name":\#(TensorJSON.quoted(model.name)),"model_version":"\#(model.version)"\#(id),"outputs":[\#(encoded)]}"#
        guard wanted.contains(where: \.binary) else { return .json(.ok, json) }
        let jsonBytes = Array(json.utf8)
        return HTTPResponse(status: .ok,
                            headers: ["Content-Type": "application/octet-stream",
                                      InferenceBody.headerLengthField: String(jsonBytes.count)],
                            body: .bytes(jsonBytes + binaryTail))
    }
}
