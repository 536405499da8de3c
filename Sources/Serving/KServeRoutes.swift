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
                try respond(request) { let model = try repository.model(for: request); return .json(.ok, #"{"name":\#(TensorJSON.quoted(model.name)),"ready":true}"#) }
            }
            router.post(prefix + "/infer") { [self] request in try await respondAsync(request) { try await infer(request) } }
        }
    }

    private func metadata(_ model: LoadedModel) -> HTTPResponse {
        func specs(_ values: [ValueInfo]) -> String {
            values.map { value in
                let shape = (value.shape ?? []).map { $0.fixedValue.map(String.init) ?? "-1" }.joined(separator: ",")
                let type = value.dataType.map(TensorJSON.datatype) ?? "UNKNOWN"
                return #"{"name":\#(TensorJSON.quoted(value.name)),"datatype":"\#(type)","shape":[\#(shape)]}"#
            }.joined(separator: ",")
        }
        return .json(.ok, #"{"name":\#(TensorJSON.quoted(model.name)),"versions":["\#(model.version)"],"platform":"onnx","inputs":[\#(specs(model.plan.inputs))],"outputs":[\#(specs(model.plan.outputs))]}"#)
    }

    private func infer(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try repository.model(for: request)
        let (header, tail) = try InferenceBody.split(request)
        let body = try JSONBody.object(bytes: header, contentType: tail == nil ? request.headers["Content-Type"] : nil)
        guard let inputObjects = body["inputs"] as? [Any], !inputObjects.isEmpty else {
            throw ServingError.badRequest("the request needs an \"inputs\" array")
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
        // Outputs come back as JSON data, or as raw bytes after the JSON header when asked (per output
        // `parameters.binary_data`, or for all with the request's `parameters.binary_data_output`).
        let parameters = body["parameters"] as? [String: Any]
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
                let binary = try ClientNumber.bool((object["parameters"] as? [String: Any])?["binary_data"], field: "outputs[\(name)].parameters.binary_data")
                return (name, binary ?? allBinary)
            }
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

/// An infer request's body: all JSON, or — with Triton's binary tensor extension — a JSON header of
/// `Inference-Header-Content-Length` bytes followed by raw tensor data.
enum InferenceBody {
    static let headerLengthField = "Inference-Header-Content-Length"

    static func split(_ request: HTTPRequest) throws -> (json: ArraySlice<UInt8>, binary: ArraySlice<UInt8>?) {
        guard let field = request.headers[headerLengthField] else { return (request.body[...], nil) }
        guard let length = try ClientNumber.integer(text: field, field: headerLengthField, in: 0...request.body.count) else {
            return (request.body[...], nil)
        }
        return (request.body[..<length], request.body[length...])
    }
}

enum JSONBody {
    /// The request body as a JSON object, or a 400/415 that says why not. The content type is not
    /// insisted on (curl -d sends form-urlencoded), but a body that is clearly something else is 415.
    static func object(_ request: HTTPRequest) throws -> [String: Any] {
        try object(bytes: request.body[...], contentType: request.headers["Content-Type"])
    }

    static func object(bytes: ArraySlice<UInt8>, contentType: String?) throws -> [String: Any] {
        if let type = contentType?.lowercased(),
           ["image/", "audio/", "video/", "multipart/"].contains(where: { type.hasPrefix($0) }) {
            throw ServingError.unsupportedMediaType("expected application/json, got \(type)")
        }
        guard !bytes.isEmpty else { throw ServingError.badRequest("the request body is empty; send a JSON object") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw ServingError.badRequest("the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw ServingError.badRequest("the body must be a JSON object") }
        return object
    }
}

extension HTTPRequest {
    /// The longest deadline a caller may ask for.
    static let maxDeadlineMilliseconds = 600_000

    /// The caller's deadline: `X-Deadline-Ms` header or `timeout_ms` query parameter (else the server default); a
    /// value that is not a whole number of milliseconds in 1...600000 is refused with a 400 naming it.
    func deadline() throws -> Duration? {
        let range = 1...Self.maxDeadlineMilliseconds
        if let header = try ClientNumber.integer(text: headers["X-Deadline-Ms"], field: "X-Deadline-Ms", in: range) {
            return .milliseconds(header)
        }
        return try ClientNumber.integer(text: query("timeout_ms"), field: "timeout_ms", in: range).map { .milliseconds($0) }
    }
}
