// libFuzzer entry for TensorFlow Serving `:predict` bodies (row and columnar format, nested values, {"b64": …}): the
// input's first byte picks the model interface the body is read against, the rest is the body. Every body decodes
// to declared inputs whose bytes match their shapes (in row format, all with the instances as rows) and encode back
// as TF Serving answers, or is refused with a ServingError. Nothing traps.
import Foundation

private func spec(_ name: String, _ type: DataType?, _ shape: [Int]) -> ModelMetadata.TensorSpec {
    ModelMetadata.TensorSpec(name: name, datatype: type, typeName: type?.description ?? "string", shape: shape)
}

/// A single FP32 input, a fixed-shape image (b64 rows), two named inputs, and an input of a type we cannot take.
private let interfaces: [[ModelMetadata.TensorSpec]] = [
    [spec("x", .float, [-1, 3])],
    [spec("image", .uint8, [-1, 2, 2, 1])],
    [spec("ids", .int64, [-1, -1]), spec("mask", .bool, [-1, 4])],
    [spec("text", nil, [-1])],
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTFPredict(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let declared = interfaces[Int(data[0]) % interfaces.count]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    do {
        let decoded = try TFPredictRequest(body: body, contentType: nil, declared: declared)
        precondition(Set(decoded.inputs.map(\.name)).count == decoded.inputs.count, "an input given twice")
        for input in decoded.inputs {
            let spec = declared.first { $0.name == input.name }
            precondition(spec != nil, "'\(input.name)' is not declared")
            precondition(input.tensor.dataType == spec?.datatype, "wrong element type")
            var elements = 1
            for dim in input.tensor.shape {
                precondition(dim >= 0, "negative dimension")
                elements *= dim   // TensorJSON/TFNestedValues promised a product ≤ TensorJSON.maxElements
            }
            precondition(elements <= TensorJSON.maxElements, "too many elements")
            precondition(input.tensor.data.count == elements * input.tensor.dataType.size, "bytes do not match shape \(input.tensor.shape)")
            switch decoded.format {
            case .row:
                precondition(input.tensor.shape.first == decoded.rows, "row format: \(input.tensor.shape) lacks the \(decoded.rows) rows")
                for row in 0..<decoded.rows { _ = try JSONEncoder().encode(TFNestedTensor(tensor: input.tensor, row: row)) }
            case .columnar:
                _ = try JSONEncoder().encode(TFNestedTensor(tensor: input.tensor))
            }
        }
    } catch is ServingError {
        return 0
    } catch {
        preconditionFailure("the :predict decoder threw something other than a ServingError: \(error)")
    }
    return 0
}
