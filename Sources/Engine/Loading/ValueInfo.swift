import ONNXProto

/// One dimension of a declared shape.
public enum Dimension: Sendable, Equatable, CustomStringConvertible {
    case fixed(Int)
    /// A named dimension, such as a dynamic batch `N`.
    case symbolic(String)
    case unknown

    public var description: String {
        switch self {
        case .fixed(let value): "\(value)"
        case .symbolic(let name): name
        case .unknown: "?"
        }
    }

    public var fixedValue: Int? {
        if case .fixed(let value) = self { value } else { nil }
    }
}

/// A graph input or output as the model declares it.
public struct ValueInfo: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    /// nil when the model declares an element type the engine does not support.
    public let dataType: DataType?
    public let onnxTypeName: String
    /// nil when the model declares no shape at all.
    public let shape: [Dimension]?

    public var description: String {
        let dims = shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[unknown rank]"
        return "\(name): \(onnxTypeName) \(dims)"
    }

    init(name: String, dataType: DataType?, onnxTypeName: String, shape: [Dimension]?) {
        self.name = name
        self.dataType = dataType
        self.onnxTypeName = onnxTypeName
        self.shape = shape
    }

    init(proto: Onnx_ValueInfoProto) {
        name = proto.name
        guard case .tensorType(let tensorType)? = proto.type.value else {
            dataType = nil
            onnxTypeName = "non-tensor"
            shape = nil
            return
        }
        dataType = DataType(rawValue: tensorType.elemType)
        onnxTypeName = DataType(rawValue: tensorType.elemType)?.description ?? DataType.onnxName(tensorType.elemType)
        shape = tensorType.hasShape
            ? tensorType.shape.dim.map { dim in
                switch dim.value {
                case .dimValue(let value)?: value >= 0 ? .fixed(Int(value)) : .unknown
                case .dimParam(let name)?: name.isEmpty ? .unknown : .symbolic(name)
                case nil: .unknown
                }
            }
            : nil
    }

    /// Whether a run-time shape fits the declared one (fixed dimensions must match).
    func accepts(_ actual: [Int]) -> Bool {
        guard let shape else { return true }
        guard shape.count == actual.count else { return false }
        return zip(shape, actual).allSatisfy { declared, value in declared.fixedValue.map { $0 == value } ?? true }
    }
}
