import Engine
import Foundation

/// TensorFlow Serving's JSON tensors: values in their natural nesting (`[[1, 2], [3, 4]]` is a [2, 2] tensor), the
/// shape read from the nesting, the element type from the model's declared input. A value `{"b64": "…"}` carries
/// binary data; since our models have no string tensors, its bytes are the little-endian elements of the input's
/// type for one instance (row format) or the whole input (columnar format), shaped by the model's declared shape.
enum TFNestedValues {
    /// Deeper than any tensor we take, and far below what would exhaust the stack.
    static let maxRank = 16

    /// The tensor `value` (nested arrays of numbers or booleans) stands for, or a `b64` object's bytes.
    static func tensor(_ value: Any, type: DataType, declared: [Int?], name: String, batched: Bool) throws -> Tensor {
        if let bytes = try b64(value, name: name) {
            return try tensor(bytes: bytes, type: type, declared: declared, name: name, batched: batched)
        }
        var shape: [Int] = []
        var leaves: [Any] = []
        try flatten(value, depth: 0, shape: &shape, leaves: &leaves, name: name)
        return try TensorJSON.tensor(leaves, shape: shape, type: type, name: name)
    }

    /// The decoded bytes of `{"b64": "…"}`, nil for any other value.
    static func b64(_ value: Any, name: String) throws -> Data? {
        guard let object = value as? [String: Any], object.count == 1, let text = object["b64"] else { return nil }
        guard let text = text as? String, let data = Data(base64Encoded: text) else {
            throw ServingError.invalidField(field: "\(name.prefix(64)).b64", expected: "a base64 string", got: ClientNumber.describe(text))
        }
        return data
    }

    /// Raw elements shaped by the declared shape: one instance (the declared shape without its batch axis) or, with
    /// `batched`, as many rows as the bytes hold.
    private static func tensor(bytes: Data, type: DataType, declared: [Int?], name: String, batched: Bool) throws -> Tensor {
        let label = "input '\(name.prefix(64))'"
        let row = Array(declared.dropFirst())
        guard row.allSatisfy({ $0 != nil }) else {
            throw ServingError.badRequest("\(label): b64 data needs a model input of fixed shape past the batch axis, and it is \(declared.map { $0.map(String.init) ?? "-1" })")
        }
        let rowShape = row.compactMap { $0 }
        var rowBytes = type.size
        for dim in rowShape {
            let (product, overflow) = rowBytes.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw ServingError.badRequest("\(label): the model's declared shape \(rowShape) is too large for b64 data") }
            rowBytes = product
        }
        guard rowBytes > 0, bytes.count % rowBytes == 0 else {
            throw ServingError.badRequest("\(label): b64 data of \(bytes.count) bytes is not a whole number of \(TensorJSON.datatype(type)) rows of shape \(rowShape) (\(rowBytes) bytes each)")
        }
        let rows = bytes.count / rowBytes
        guard batched || rows == 1 else {
            throw ServingError.badRequest("\(label): an instance's b64 data must be one row of shape \(rowShape) (\(rowBytes) bytes), got \(bytes.count)")
        }
        let shape = batched ? [rows] + rowShape : rowShape
        return bytes.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
    }

    /// Leaves in order, and the shape: every array at one depth must have the same length.
    private static func flatten(_ value: Any, depth: Int, shape: inout [Int], leaves: inout [Any], name: String) throws {
        guard let array = value as? [Any] else {
            guard value is NSNumber else {
                throw ServingError.badRequest("input '\(name.prefix(64))' has a value that is neither a number, a boolean nor a list: \(ClientNumber.describe(value))")
            }
            guard depth == shape.count else {
                throw ServingError.badRequest("input '\(name.prefix(64))' is not rectangular: a number where a list of \(shape[depth]) was expected")
            }
            leaves.append(value)
            return
        }
        guard depth < maxRank else { throw ServingError.badRequest("input '\(name.prefix(64))' is nested deeper than \(maxRank) levels") }
        if depth == shape.count {
            guard leaves.isEmpty else {
                throw ServingError.badRequest("input '\(name.prefix(64))' is not rectangular: a list where a number was expected")
            }
            shape.append(array.count)
        } else if shape[depth] != array.count {
            throw ServingError.badRequest("input '\(name.prefix(64))' is not rectangular: lists of \(shape[depth]) and \(array.count) values at depth \(depth)")
        }
        for element in array {
            try flatten(element, depth: depth + 1, shape: &shape, leaves: &leaves, name: name)
            guard leaves.count <= TensorJSON.maxElements else {
                throw ServingError.tooLarge("input '\(name.prefix(64))' has more than \(TensorJSON.maxElements) values")
            }
        }
    }
}
