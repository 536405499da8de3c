import Engine
import Foundation

/// A TensorFlow Serving `:predict` body read into named input tensors for the protocol-neutral `InferenceRequest`,
/// against the model's declared inputs (`ModelMetadata.TensorSpec`; fuzzed with `scripts/fuzz.sh tf-predict`).
///
/// Row format, `{"instances": [...]}`: one entry per batch row, each the value of the model's only input or an object
/// of named inputs; rows are stacked along a new axis 0. Columnar format, `{"inputs": value | {name: value}}`: each
/// input whole. `signature_name` may be absent or `serving_default` (an ONNX model has one signature).
struct TFPredictRequest {
    enum Format { case row, columnar }

    let inputs: [NamedTensor]
    let format: Format
    /// Rows in a row-format request (the batch size every output must share).
    let rows: Int

    init(body: [UInt8], contentType: String?, declared: [ModelMetadata.TensorSpec]) throws {
        let object = try JSONBody.object(bytes: body[...], contentType: contentType)
        if let signature = object["signature_name"], !(signature is NSNull) {
            guard let name = signature as? String, name == "serving_default" || name.isEmpty else {
                throw ServingError.invalidField(field: "signature_name", expected: "\"serving_default\" (an ONNX model has one signature)",
                                                got: ClientNumber.describe(signature))
            }
        }
        switch (object["instances"], object["inputs"]) {
        case (let instances?, nil):
            guard let rows = instances as? [Any], !rows.isEmpty else {
                throw ServingError.invalidField(field: "instances", expected: "a non-empty list", got: ClientNumber.describe(instances))
            }
            format = .row
            self.rows = rows.count
            inputs = try Self.stacking(rows, declared: declared)
        case (nil, let columns?):
            format = .columnar
            rows = 0
            inputs = try Self.columns(columns, declared: declared)
        case (nil, nil):
            throw ServingError.badRequest("the request needs \"instances\" (row format) or \"inputs\" (columnar format)")
        default:
            throw ServingError.badRequest("give either \"instances\" or \"inputs\", not both")
        }
    }

    /// Rows of one unnamed input, or rows of named inputs, stacked into one tensor per input.
    private static func stacking(_ rows: [Any], declared: [ModelMetadata.TensorSpec]) throws -> [NamedTensor] {
        // Objects of named inputs, unless the object is a `{"b64": …}` value of the only input.
        var named = false
        if let first = rows.first as? [String: Any] { named = !(first.count == 1 && first["b64"] != nil) }
        var columns: [String: [Any]] = [:]
        if named, let first = rows[0] as? [String: Any] {
            for (index, row) in rows.enumerated() {
                guard let object = row as? [String: Any] else {
                    throw ServingError.badRequest("instances[\(index)] is not an object of named inputs like instances[0]")
                }
                guard Set(object.keys) == Set(first.keys) else {
                    throw ServingError.badRequest("instances[\(index)] names other inputs than instances[0]; in row format every instance has the same inputs")
                }
                for (name, value) in object { columns[name, default: []].append(value) }
            }
        } else {
            guard declared.count == 1 else {
                throw ServingError.badRequest("the model has \(declared.count) inputs (\(declared.map(\.name).joined(separator: ", "))): name them in each instance")
            }
            columns[declared[0].name] = rows
        }
        return try columns.keys.sorted().map { name in
            let info = try input(name, of: declared)
            let tensors = try columns[name]!.map {
                try TFNestedValues.tensor($0, type: try dataType(info), declared: shape(info), name: name, batched: false)
            }
            return NamedTensor(name: name, tensor: try stack(tensors, name: name))
        }
    }

    /// `{"inputs": value}` for a single-input model, `{"inputs": {name: value, …}}` otherwise.
    private static func columns(_ value: Any, declared: [ModelMetadata.TensorSpec]) throws -> [NamedTensor] {
        if let object = value as? [String: Any], try TFNestedValues.b64(value, name: "inputs") == nil {
            return try object.keys.sorted().map { name in
                let info = try input(name, of: declared)
                return NamedTensor(name: name, tensor: try TFNestedValues.tensor(object[name]!, type: try dataType(info),
                                                                                 declared: shape(info), name: name, batched: true))
            }
        }
        guard declared.count == 1 else {
            throw ServingError.badRequest("the model has \(declared.count) inputs (\(declared.map(\.name).joined(separator: ", "))): give \"inputs\" as an object of named inputs")
        }
        let info = declared[0]
        return [NamedTensor(name: info.name, tensor: try TFNestedValues.tensor(value, type: try dataType(info), declared: shape(info),
                                                                              name: info.name, batched: true))]
    }

    private static func input(_ name: String, of declared: [ModelMetadata.TensorSpec]) throws -> ModelMetadata.TensorSpec {
        guard let info = declared.first(where: { $0.name == name }) else {
            throw ServingError.badRequest("'\(name.prefix(64))' is not an input of the model (it has \(declared.map(\.name).joined(separator: ", ")))")
        }
        return info
    }

    private static func dataType(_ info: ModelMetadata.TensorSpec) throws -> DataType {
        guard let type = info.datatype else {
            // The graph declares an element type the engine has no tensors of: no request can feed this input.
            throw ServingError.badRequest("input '\(info.name)' has the type \(info.typeName), which deepserve cannot take")
        }
        return type
    }

    private static func shape(_ info: ModelMetadata.TensorSpec) -> [Int?] { info.shape.map { $0 >= 0 ? $0 : nil } }

    /// Instances of equal shape stacked along a new axis 0.
    private static func stack(_ tensors: [Tensor], name: String) throws -> Tensor {
        let first = tensors[0]
        var bytes: [UInt8] = []
        for (index, tensor) in tensors.enumerated() {
            guard tensor.shape == first.shape else {
                throw ServingError.badRequest("input '\(name.prefix(64))': instances[\(index)] has shape \(tensor.shape), instances[0] \(first.shape); in row format they must agree")
            }
            bytes += tensor.data
        }
        return bytes.withUnsafeBytes { Tensor(dataType: first.dataType, shape: [tensors.count] + first.shape, bytes: $0) }
    }
}
