import Engine
import Foundation
import InferenceGRPC

/// KServe V2 gRPC tensors ↔ engine tensors. A tensor's values come typed (`contents`, one repeated field per type)
/// or raw (`raw_input_contents`, one little-endian row-major byte string per input, what `tritonclient.grpc` sends).
///
/// Every number from the wire is checked before it is used: dimensions are Int64 and must fit `Int` exactly, their
/// product is overflow-checked against `TensorJSON.maxElements`, raw byte counts must be exactly elements × element
/// size, and typed values must fit the declared type (an INT8 input's `int_contents` are Int32 on the wire). A bad
/// value is an `invalidArgument` naming the input, never a trap.
enum GRPCTensors {
    /// The most dimensions one tensor may have (as over HTTP).
    static let maxRank = 16

    /// The inputs of `request`, each with the bytes of `raw_input_contents` at its index when the request used them.
    static func inputs(of request: Inference_ModelInferRequest) throws -> [NamedTensor] {
        let raw = request.rawInputContents
        guard raw.isEmpty || raw.count == request.inputs.count else {
            throw ServingError.badRequest("raw_input_contents has \(raw.count) entries for \(request.inputs.count) inputs; give one per input or none")
        }
        return try request.inputs.enumerated().map { index, input in
            try decode(input, raw: raw.isEmpty ? nil : raw[index])
        }
    }

    static func decode(_ input: Inference_ModelInferRequest.InferInputTensor, raw: Data?) throws -> NamedTensor {
        let name = input.name
        guard !name.isEmpty else { throw ServingError.badRequest("each input needs a name") }
        let label = "input '\(name.prefix(64))'"
        guard let type = TensorJSON.datatypes[input.datatype] else {
            throw ServingError.badRequest("\(label): datatype \(input.datatype.prefix(32)) is not supported (use one of \(TensorJSON.datatypes.keys.sorted().joined(separator: ", ")))")
        }
        let (shape, count) = try checkedShape(input.shape, label: label)
        if let raw {
            guard !input.hasContents else {
                throw ServingError.badRequest("\(label) has both contents and raw_input_contents; give one")
            }
            // count ≤ 2^31 − 1 and size ≤ 8, so this product cannot overflow; checked anyway, as a trap costs the server.
            let (expected, overflow) = count.multipliedReportingOverflow(by: type.size)
            guard !overflow, raw.count == expected else {
                throw ServingError.badRequest("\(label): raw_input_contents has \(raw.count) bytes; shape \(shape) of \(input.datatype) needs \(count) × \(type.size)")
            }
            return NamedTensor(name: name, tensor: raw.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) })
        }
        guard input.hasContents else {
            throw ServingError.badRequest("\(label) has no contents (and the request has no raw_input_contents)")
        }
        return NamedTensor(name: name, tensor: try typed(input.contents, type: type, shape: shape, count: count, label: label))
    }

    /// The shape as `Int`s and its element count, or an error naming the input and the offending dimension.
    static func checkedShape(_ dims: [Int64], label: String) throws -> (shape: [Int], count: Int) {
        guard dims.count <= maxRank else {
            throw ServingError.badRequest("\(label): shape has \(dims.count) dimensions (at most \(maxRank))")
        }
        var shape: [Int] = []
        var count = 1
        for dim in dims {
            guard let value = Int(exactly: dim), value >= 0 else {
                throw ServingError.badRequest("\(label): shape \(dims) has the dimension \(dim) (dimensions are 0 or more)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: value)
            guard !overflow, product <= TensorJSON.maxElements else {
                throw ServingError.tooLarge("\(label): shape \(dims) has more than \(TensorJSON.maxElements) elements")
            }
            shape.append(value)
            count = product
        }
        return (shape, count)
    }

    private static func typed(_ contents: Inference_InferTensorContents, type: DataType, shape: [Int], count: Int,
                              label: String) throws -> Tensor {
        func checkCount(_ given: Int, _ field: String) throws {
            guard given == count else {
                throw ServingError.badRequest("\(label): contents.\(field) has \(given) values for shape \(shape) (\(count) expected)")
            }
        }
        /// Narrows wire integers to the declared type, refusing a value that doesn't fit rather than truncating it.
        func narrowed<Wire: BinaryInteger, T: FixedWidthInteger>(_ values: [Wire], to _: T.Type, _ field: String) throws -> Tensor {
            try checkCount(values.count, field)
            let narrowed = try values.map { value -> T in
                guard let exact = T(exactly: value) else {
                    throw ServingError.badRequest("\(label): \(value) in contents.\(field) does not fit \(TensorJSON.datatype(type))")
                }
                return exact
            }
            return narrowed.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        }
        switch type {
        case .float:
            try checkCount(contents.fp32Contents.count, "fp32_contents")
            return contents.fp32Contents.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        case .double:
            try checkCount(contents.fp64Contents.count, "fp64_contents")
            return contents.fp64Contents.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        case .int64:
            try checkCount(contents.int64Contents.count, "int64_contents")
            return contents.int64Contents.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        case .uint64:
            try checkCount(contents.uint64Contents.count, "uint64_contents")
            return contents.uint64Contents.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        case .int32: return try narrowed(contents.intContents, to: Int32.self, "int_contents")
        case .int16: return try narrowed(contents.intContents, to: Int16.self, "int_contents")
        case .int8: return try narrowed(contents.intContents, to: Int8.self, "int_contents")
        case .uint32: return try narrowed(contents.uintContents, to: UInt32.self, "uint_contents")
        case .uint16: return try narrowed(contents.uintContents, to: UInt16.self, "uint_contents")
        case .uint8: return try narrowed(contents.uintContents, to: UInt8.self, "uint_contents")
        case .bool:
            try checkCount(contents.boolContents.count, "bool_contents")
            return contents.boolContents.map { UInt8($0 ? 1 : 0) }.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        }
    }

    /// An output tensor's header, with its values in `contents` unless they go to `raw_output_contents`.
    static func output(_ output: NamedTensor, raw: Bool) -> Inference_ModelInferResponse.InferOutputTensor {
        var answer = Inference_ModelInferResponse.InferOutputTensor()
        let tensor = output.tensor
        answer.name = output.name
        answer.datatype = TensorJSON.datatype(tensor.dataType)
        answer.shape = tensor.shape.map { Int64($0) }   // Int is 64-bit on every platform we build for
        guard !raw else { return answer }
        var contents = Inference_InferTensorContents()
        switch tensor.dataType {
        case .float: contents.fp32Contents = tensor.floatArray()
        case .double: contents.fp64Contents = tensor.doubleArray()
        case .int64: contents.int64Contents = tensor.int64Array()
        case .uint64: contents.uint64Contents = tensor.uint64Array()
        case .int32, .int16, .int8: contents.intContents = tensor.int64Array().map { Int32(truncatingIfNeeded: $0) }   // in range by type
        case .uint32, .uint16, .uint8: contents.uintContents = tensor.int64Array().map { UInt32(truncatingIfNeeded: $0) }   // in range by type
        case .bool: contents.boolContents = tensor.data.map { $0 != 0 }
        }
        answer.contents = contents
        return answer
    }
}
