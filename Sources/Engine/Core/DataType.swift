/// Element types a tensor can hold, numbered as ONNX's `TensorProto.DataType`.
///
/// Arithmetic runs in float32 (and int64 where ONNX uses it for shapes and indices); the other
/// types exist so models can carry them through `Cast`, `Shape`, `Gather` and comparisons.
public enum DataType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case bool = 9
    case double = 11
    case uint32 = 12
    case uint64 = 13

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .uint8, .int8: 1
        case .uint16, .int16: 2
        case .float, .int32, .uint32: 4
        case .double, .int64, .uint64: 8
        }
    }

    public var description: String {
        switch self {
        case .float: "float32"
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .bool: "bool"
        case .double: "float64"
        case .uint32: "uint32"
        case .uint64: "uint64"
        }
    }

    /// The name ONNX gives an element type code, also for the codes the engine does not support.
    public static func onnxName(_ code: Int32) -> String {
        let names: [Int32: String] = [
            0: "undefined", 1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32",
            7: "int64", 8: "string", 9: "bool", 10: "float16", 11: "double", 12: "uint32",
            13: "uint64", 14: "complex64", 15: "complex128", 16: "bfloat16", 17: "float8e4m3fn",
            18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4",
            23: "float4e2m1",
        ]
        return names[code] ?? "type \(code)"
    }

    var isFloatingPoint: Bool { self == .float || self == .double }
}
