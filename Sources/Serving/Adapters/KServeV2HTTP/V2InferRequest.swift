import Foundation

/// A KServe V2 infer body (JSON, or a JSON header followed by raw tensor bytes) read into the protocol-neutral
/// `InferenceRequest`, plus the one thing only this protocol has: which outputs the client wants as raw bytes.
struct V2InferRequest {
    var request: InferenceRequest
    /// Per output asked for (all of them when `request.outputs` is nil): answer its bytes after the JSON.
    var binaryOutputs: [String: Bool]
    /// Outputs answered raw when no per-output choice was made (`parameters.binary_data_output`).
    var allBinary: Bool

    func isBinary(_ output: String) -> Bool { binaryOutputs[output] ?? allBinary }

    /// The cheap fields first: a malformed request is refused before any tensor is decoded.
    init(model: String, version: String?, body: [UInt8], contentType: String?, headerLength: String?,
         deadline: Duration?) throws {
        let (header, tail) = try InferenceBody.split(body, headerLength: headerLength)
        let object = try JSONBody.object(bytes: header, contentType: tail == nil ? contentType : nil)
        guard let inputObjects = object["inputs"] as? [Any], !inputObjects.isEmpty else {
            throw ServingError.badRequest("the request needs an \"inputs\" array")
        }
        let parameters = try Self.object(object["parameters"], field: "parameters")
        if let id = object["id"], !(id is NSNull), !(id is String) {
            throw ServingError.invalidField(field: "id", expected: "a string", got: ClientNumber.describe(id))
        }
        allBinary = try ClientNumber.bool(parameters?["binary_data_output"], field: "parameters.binary_data_output") ?? false
        var binaryOutputs: [String: Bool] = [:]
        var outputs: [String]?
        if let requested = object["outputs"], !(requested is NSNull) {
            guard let objects = requested as? [[String: Any]] else {
                throw ServingError.invalidField(field: "outputs", expected: "an array of objects with a \"name\"", got: ClientNumber.describe(requested))
            }
            outputs = try objects.map { object in
                guard let name = object["name"] as? String else {
                    throw ServingError.badRequest("requested output \(ClientNumber.describe(object["name"] ?? NSNull())) is not an output name")
                }
                let parameters = try Self.object(object["parameters"], field: "outputs[\(name.prefix(64))].parameters")
                if let binary = try ClientNumber.bool(parameters?["binary_data"], field: "outputs[\(name.prefix(64))].parameters.binary_data") {
                    binaryOutputs[name] = binary
                }
                return name
            }
        }
        var binary = BinaryTensorData(tail ?? [])
        var inputs: [NamedTensor] = []
        for object in inputObjects {
            let (name, tensor) = try TensorJSON.decode(object, binary: &binary)
            inputs.append(NamedTensor(name: name, tensor: tensor))
        }
        guard binary.remaining == 0 else {
            throw ServingError.badRequest("\(binary.remaining) bytes of binary data follow the JSON header that no input's binary_data_size claims")
        }
        self.binaryOutputs = binaryOutputs
        request = InferenceRequest(model: model, version: version, inputs: inputs, outputs: outputs, deadline: deadline,
                                   id: object["id"] as? String)
    }

    /// A JSON object field, nil when absent or null; anything else is refused naming the field.
    private static func object(_ value: Any?, field: String) throws -> [String: Any]? {
        guard let value, !(value is NSNull) else { return nil }
        guard let object = value as? [String: Any] else {
            throw ServingError.invalidField(field: field, expected: "an object", got: ClientNumber.describe(value))
        }
        return object
    }
}
