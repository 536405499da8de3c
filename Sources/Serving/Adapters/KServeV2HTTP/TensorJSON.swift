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
        switch type {
        case .bool: "BOOL"
        case .uint8: "UINT8"
        case .uint16: "UINT16"
        case .uint32: "UINT32"
        case .uint64: "UINT64"
        case .int8: "INT8"
        case .int16: "INT16"
        case .int32: "INT32"
        case .int64: "INT64"
        case .float: "FP32"
        case .double: "FP64"
        }
    }

    /// The most elements one input tensor may have (what a 32-bit element count holds).
    static let maxElements = Int(Int32.max)

    /// Decodes one input object; every problem names the input. An input with `parameters.binary_data_size` takes
    /// its bytes from `binary` (Triton's binary tensor extension) instead of `data`.
    static func decode(_ object: Any, binary: inout BinaryTensorData) throws -> (name: String, tensor: Tensor) {
        guard let object = object as? [String: Any], let name = object["name"] as? String else {
            throw ServingError.badRequest("each input needs a \"name\" (a string)")
        }
        let field = "inputs[\(name.prefix(64))]"
        guard let shapeValues = object["shape"] as? [Any], shapeValues.count <= 16 else {
            throw ServingError.invalidField(field: "\(field).shape", expected: "an array of at most 16 dimensions",
                                            got: object["shape"].map(ClientNumber.describe) ?? "nothing")
        }
        let shape = try shapeValues.map { value in
            guard let dim = try ClientNumber.integer(value, field: "\(field).shape", in: 0...maxElements) else {
                throw ClientNumber.invalid("\(field).shape", value, "an integer in 0...\(maxElements)")
            }
            return dim
        }
        guard let typeName = object["datatype"] as? String else {
            throw ServingError.badRequest("input '\(name)' needs a \"datatype\"")
        }
        guard let type = datatypes[typeName] else {
            throw ServingError.badRequest("input '\(name)': datatype \(typeName.prefix(32)) is not supported (use one of \(datatypes.keys.sorted().joined(separator: ", ")))")
        }
        var expected = 1
        for dim in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dim)
            guard !overflow, product <= maxElements else {
                throw ServingError.invalidField(field: "\(field).shape", expected: "dimensions whose product is at most \(maxElements)",
                                                got: "\(shape)")
            }
            expected = product
        }
        let (byteCount, _) = expected.multipliedReportingOverflow(by: type.size)   // ≤ 2^31 · 8: cannot overflow
        if let parameters = object["parameters"], !(parameters is NSNull), !(parameters is [String: Any]) {
            throw ServingError.invalidField(field: "\(field).parameters", expected: "an object", got: ClientNumber.describe(parameters))
        }
        if let parameters = object["parameters"] as? [String: Any], let size = parameters["binary_data_size"] {
            let given = try ClientNumber.integer(size, field: "\(field).parameters.binary_data_size", in: 0...Int.max)
            guard given == byteCount else {
                throw ServingError.badRequest("input '\(name)': binary_data_size \(ClientNumber.describe(size)) does not fit shape \(shape) of \(typeName) (\(byteCount) bytes)")
            }
            let bytes = try binary.take(byteCount, for: name)
            return (name, bytes.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) })
        }
        guard let data = object["data"] else { throw ServingError.badRequest("input '\(name)' needs \"data\"") }
        var values: [Any] = []
        values.reserveCapacity(min(expected, 1 << 20))
        try flatten(data, into: &values, name: name, limit: expected)
        guard values.count == expected else {
            throw ServingError.badRequest("input '\(name)' has \(values.count) values for shape \(shape) (\(expected) expected)")
        }
        return (name, try tensor(values, shape: shape, type: type, name: name))
    }

    /// The leaves of `data` (flat or nested) in order; stops as soon as there are more than `limit`.
    private static func flatten(_ value: Any, into values: inout [Any], name: String, limit: Int) throws {
        if let array = value as? [Any] {
            for element in array {
                try flatten(element, into: &values, name: name, limit: limit)
                guard values.count <= limit else { return }
            }
        } else if value is NSNumber {
            values.append(value)
        } else {
            throw ServingError.badRequest("input '\(name)' has a non-numeric value in \"data\": \(ClientNumber.describe(value))")
        }
    }

    /// Flat JSON leaves as a tensor of `type`: integers exact, floats in range, booleans as true/false or 0/1.
    static func tensor(_ values: [Any], shape: [Int], type: DataType, name: String) throws -> Tensor {
        func invalid(_ value: Any) -> ServingError {
            .badRequest("input '\(name)': \(ClientNumber.describe(value)) is not a valid \(datatype(type)) value")
        }
        func integers<T: FixedWidthInteger>(_: T.Type) throws -> [T] {
            try values.map { value in
                let integer: T?
                switch ClientNumber.read(value) {
                case .signed(let number): integer = T(exactly: number)
                case .unsigned(let number): integer = T(exactly: number)
                case .real(let number): integer = number.isFinite ? T(exactly: number) : nil
                case .notANumber: integer = nil
                }
                guard let integer else { throw invalid(value) }
                return integer
            }
        }
        func reals() throws -> [Double] {
            try values.map { value in
                switch ClientNumber.read(value) {
                case .signed(let number): Double(number)
                case .unsigned(let number): Double(number)
                case .real(let number): number
                case .notANumber: throw invalid(value)
                }
            }
        }
        let bytes: [UInt8]
        switch type {
        case .float:
            bytes = try reals().map { number in
                guard abs(number) <= Double(Float.greatestFiniteMagnitude) else { throw invalid(number) }
                return Float(number)
            }.withUnsafeBytes { Array($0) }
        case .double: bytes = try reals().withUnsafeBytes { Array($0) }
        case .int64: bytes = try integers(Int64.self).withUnsafeBytes { Array($0) }
        case .int32: bytes = try integers(Int32.self).withUnsafeBytes { Array($0) }
        case .int16: bytes = try integers(Int16.self).withUnsafeBytes { Array($0) }
        case .int8: bytes = try integers(Int8.self).withUnsafeBytes { Array($0) }
        case .uint8: bytes = try integers(UInt8.self).withUnsafeBytes { Array($0) }
        case .uint16: bytes = try integers(UInt16.self).withUnsafeBytes { Array($0) }
        case .uint32: bytes = try integers(UInt32.self).withUnsafeBytes { Array($0) }
        case .uint64: bytes = try integers(UInt64.self).withUnsafeBytes { Array($0) }
        case .bool:
            // true/false, or 0/1 as many clients write booleans.
            bytes = try values.map { value in
                if let flag = try? ClientNumber.bool(value, field: "") { return flag ? 1 : 0 }
                switch ClientNumber.read(value) {
                case .signed(0), .unsigned(0): return 0
                case .signed(1), .unsigned(1): return 1
                default: throw invalid(value)
                }
            }
        }
        return bytes.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
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
