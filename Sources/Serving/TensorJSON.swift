import Engine
import Foundation

/// Tensors in the KServe V2 / Open Inference Protocol JSON form:
/// `{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}` (data flat or nested).
enum TensorJSON {
    static let datatypes: [String: DataType] = [
        "BOOL": .bool, "UINT8": .uint8, "UINT16": .uint16, "UINT32": .uint32, "UINT64": .uint64, "INT8": .int8,
        "INT16": .int16, "INT32": .int32, "INT64": .int64, "FP32": .float, "FP64": .double,
    ]

    static func datatype(_ type: DataType) -> String {
        datatypes.first { $0.value == type }!.key
    }

    /// Decodes one input object; every problem names the input. An input with `parameters.binary_data_size` takes
    /// its bytes from `binary` (Triton's binary tensor extension) instead of `data`.
    static func decode(_ object: Any, binary: inout BinaryTensorData) throws -> (name: String, tensor: Tensor) {
        guard let object = object as? [String: Any], let name = object["name"] as? String else {
            throw ServingError.badRequest("each input needs a \"name\"")
        }
        guard let shapeValues = object["shape"] as? [Any] else {
            throw ServingError.badRequest("input '\(name)' needs a \"shape\" array")
        }
        let shape = try shapeValues.map { value -> Int in
            guard let number = value as? NSNumber, let dim = Int(exactly: number.doubleValue), dim >= 0, dim <= 1 << 31 else {
                throw ServingError.badRequest("input '\(name)' has an invalid shape \(shapeValues)")
            }
            return dim
        }
        guard let typeName = object["datatype"] as? String else {
            throw ServingError.badRequest("input '\(name)' needs a \"datatype\"")
        }
        guard let type = datatypes[typeName] else {
            throw ServingError.badRequest("input '\(name)': datatype \(typeName) is not supported (use one of \(datatypes.keys.sorted().joined(separator: ", ")))")
        }
        var expected = 1
        for dim in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= Int(Int32.max) else { throw ServingError.badRequest("input '\(name)' shape \(shape) is too large") }
            expected = product
        }
        if let parameters = object["parameters"] as? [String: Any], let size = parameters["binary_data_size"] {
            guard let size = (size as? NSNumber).flatMap({ Int(exactly: $0.doubleValue) }), size == expected * type.size else {
                throw ServingError.badRequest("input '\(name)': binary_data_size \(size) does not fit shape \(shape) of \(typeName) (\(expected * type.size) bytes)")
            }
            let bytes = try binary.take(size, for: name)
            return (name, bytes.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) })
        }
        guard let data = object["data"] else { throw ServingError.badRequest("input '\(name)' needs \"data\"") }
        var values: [NSNumber] = []
        try flatten(data, into: &values, name: name)
        guard values.count == expected else {
            throw ServingError.badRequest("input '\(name)' has \(values.count) values for shape \(shape) (\(expected) expected)")
        }
        return (name, try tensor(values, shape: shape, type: type, name: name))
    }

    private static func flatten(_ value: Any, into values: inout [NSNumber], name: String) throws {
        if let array = value as? [Any] {
            for element in array { try flatten(element, into: &values, name: name) }
        } else if let number = value as? NSNumber {
            values.append(number)
        } else {
            throw ServingError.badRequest("input '\(name)' has a non-numeric value in \"data\"")
        }
    }

    private static func tensor(_ values: [NSNumber], shape: [Int], type: DataType, name: String) throws -> Tensor {
        func integers<T: FixedWidthInteger>(_: T.Type) throws -> [T] {
            try values.map { number in
                guard let value = T(exactly: number.doubleValue) else {
                    throw ServingError.badRequest("input '\(name)': \(number) is not a valid \(T.self)")
                }
                return value
            }
        }
        let bytes: [UInt8]
        switch type {
        case .float: bytes = values.map(\.floatValue).withUnsafeBytes { Array($0) }
        case .double: bytes = values.map(\.doubleValue).withUnsafeBytes { Array($0) }
        case .int64: bytes = try values.map { number -> Int64 in
                // int64Value keeps every bit of a JSON integer; doubleValue would round above 2^53.
                guard number.doubleValue.rounded() == number.doubleValue, abs(number.doubleValue) <= 9.3e18 else {
                    throw ServingError.badRequest("input '\(name)': \(number) is not a valid int64")
                }
                return number.int64Value
            }.withUnsafeBytes { Array($0) }
        case .int32: bytes = try integers(Int32.self).withUnsafeBytes { Array($0) }
        case .int16: bytes = try integers(Int16.self).withUnsafeBytes { Array($0) }
        case .int8: bytes = try integers(Int8.self).withUnsafeBytes { Array($0) }
        case .uint8: bytes = try integers(UInt8.self).withUnsafeBytes { Array($0) }
        case .uint16: bytes = try integers(UInt16.self).withUnsafeBytes { Array($0) }
        case .uint32: bytes = try integers(UInt32.self).withUnsafeBytes { Array($0) }
        case .uint64: bytes = try integers(UInt64.self).withUnsafeBytes { Array($0) }
        case .bool: bytes = values.map { $0.boolValue ? 1 : 0 }
        }
        return bytes.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
    }

    /// `{"name": …, "datatype": …, "shape": […], "data": [flat values]}`.
    static func encode(name: String, _ tensor: Tensor) -> String {
        var json = "{\"name\":\(quoted(name)),\"datatype\":\"\(datatype(tensor.dataType))\",\"shape\":["
        json += tensor.shape.map(String.init).joined(separator: ",") + "],\"data\":["
        json += values(tensor).joined(separator: ",") + "]}"
        return json
    }

    static func values(_ tensor: Tensor) -> [String] {
        switch tensor.dataType {
        // JSON has no NaN or infinity: those become null.
        case .float:
            return tensor.floatArray().map { $0.isFinite ? "\($0)" : "null" }
        case .double:
            return tensor.doubleArray().map { $0.isFinite ? "\($0)" : "null" }
        case .bool:
            return tensor.data.map { $0 != 0 ? "true" : "false" }
        default:
            return tensor.int64Array().map(String.init)
        }
    }

    /// `{"name": …, "datatype": …, "shape": […], "parameters": {"binary_data_size": n}}`: the bytes follow the JSON.
    static func encodeBinaryHeader(name: String, _ tensor: Tensor) -> String {
        "{\"name\":\(quoted(name)),\"datatype\":\"\(datatype(tensor.dataType))\",\"shape\":["
            + tensor.shape.map(String.init).joined(separator: ",") + "],\"parameters\":{\"binary_data_size\":\(tensor.data.count)}}"
    }

    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }
}

/// The raw tensor bytes after the JSON header of a request in Triton's binary tensor extension
/// (`Inference-Header-Content-Length`), handed out in input order. Little-endian, row-major, as the extension says.
struct BinaryTensorData {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    /// Bytes no input claimed; the request is refused if any are left.
    var remaining: Int { bytes.count }

    mutating func take(_ count: Int, for name: String) throws -> ArraySlice<UInt8> {
        guard count <= bytes.count else {
            throw ServingError.badRequest("input '\(name)' needs \(count) bytes of binary data, but only \(bytes.count) follow the JSON header")
        }
        defer { bytes = bytes.dropFirst(count) }
        return bytes.prefix(count)
    }
}
