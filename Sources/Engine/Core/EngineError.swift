/// Everything that can go wrong loading or running a model, each case carrying what a user needs
/// to act on it. Loading never traps on bad input: every malformed file ends in one of these.
public enum EngineError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not a protobuf-encoded ONNX model (or are truncated).
    case notAModel(reason: String)
    /// The model decodes but is inconsistent (a cycle, a value used before it is produced, …).
    case invalidModel(reason: String)
    /// An operator the engine has no kernel for.
    case unsupportedOperator(opType: String, domain: String, opset: Int, node: String)
    /// An element type the engine cannot hold, with where it was met.
    case unsupportedDataType(String, context: String)
    /// A node or output refers to a value that nothing produces.
    case missingValue(name: String, node: String)
    /// An attribute is missing, of the wrong kind, or out of range.
    case invalidAttribute(node: String, opType: String, attribute: String, reason: String)
    /// Reading tensor data kept beside the model failed.
    case externalData(tensor: String, reason: String)
    /// The model file could not be read.
    case io(path: String, reason: String)
    /// A run was given no value for a graph input.
    case missingInput(name: String)
    /// A run was given a value for a name that is not a graph input.
    case unknownInput(name: String, known: [String])
    /// A run input has the wrong element type.
    case inputTypeMismatch(name: String, expected: DataType, got: DataType)
    /// A run input's shape does not fit the model's declared shape.
    case inputShapeMismatch(name: String, expected: String, got: [Int])
    /// A node met inputs it cannot compute on (shapes that do not broadcast, indices out of range…).
    case invalidInput(node: String, opType: String, reason: String)
    /// An integer Div or Mod node met a zero divisor (ONNX leaves it undefined; the engine refuses it).
    case divisionByZero(node: String, opType: String)
    /// The run's deadline passed while (or before) the node ran.
    case deadlineExceeded(node: String)
    /// The run was cancelled by its caller while (or before) the node ran.
    case cancelled(node: String)
    /// The node would need more memory or work than the run's limits allow.
    case resourceLimit(node: String, reason: String)

    public var description: String {
        switch self {
        case .notAModel(let reason):
            "not an ONNX model: \(reason)"
        case .invalidModel(let reason):
            "invalid ONNX model: \(reason)"
        case .unsupportedOperator(let opType, let domain, let opset, let node):
            "unsupported operator \(opType) (domain '\(domain.isEmpty ? "ai.onnx" : domain)', opset \(opset)) in node '\(node)'"
        case .unsupportedDataType(let type, let context):
            "unsupported data type \(type) in \(context)"
        case .missingValue(let name, let node):
            "value '\(name)' used by \(node) is neither a graph input, an initializer nor a node output"
        case .invalidAttribute(let node, let opType, let attribute, let reason):
            "\(opType) node '\(node)': attribute '\(attribute)' \(reason)"
        case .externalData(let tensor, let reason):
            "external data of tensor '\(tensor)': \(reason)"
        case .io(let path, let reason):
            "cannot read \(path): \(reason)"
        case .missingInput(let name):
            "missing input '\(name)'"
        case .unknownInput(let name, let known):
            "unknown input '\(name)'; the model's inputs are \(known.map { "'\($0)'" }.joined(separator: ", "))"
        case .inputTypeMismatch(let name, let expected, let got):
            "input '\(name)' must be \(expected), got \(got)"
        case .inputShapeMismatch(let name, let expected, let got):
            "input '\(name)' must have shape \(expected), got \(got)"
        case .invalidInput(let node, let opType, let reason):
            "\(opType) node '\(node)': \(reason)"
        case .divisionByZero(let node, let opType):
            "\(opType) node '\(node)': integer division by zero"
        case .deadlineExceeded(let node):
            "the run's deadline passed at node '\(node)'"
        case .cancelled(let node):
            "the run was cancelled at node '\(node)'"
        case .resourceLimit(let node, let reason):
            "node '\(node)' exceeds the run's limits: \(reason)"
        }
    }

    /// Whether the request's data caused the error (a client error, HTTP 4xx): its inputs were missing,
    /// of the wrong type or shape, or held values the model cannot compute on (an index out of range,
    /// a zero divisor) or that need more than the run's limits allow.
    ///
    /// `deadlineExceeded` and `cancelled` are neither the client's data nor the model's fault (the
    /// serving layer answers 504 or drops the request); everything else is a problem with the model (5xx).
    public var isCausedByInput: Bool {
        switch self {
        case .missingInput, .unknownInput, .inputTypeMismatch, .inputShapeMismatch, .invalidInput, .divisionByZero,
             .resourceLimit:
            true
        case .notAModel, .invalidModel, .unsupportedOperator, .unsupportedDataType, .missingValue, .invalidAttribute,
             .externalData, .io, .deadlineExceeded, .cancelled:
            false
        }
    }
}

extension EngineError: CustomDebugStringConvertible {
    public var debugDescription: String { description }
}
