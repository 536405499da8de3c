import Foundation
import ONNXProto

/// A node's attributes with typed, validated accessors; every failure names the node and attribute.
struct NodeAttributes: Sendable {
    let node: String
    let opType: String
    private let values: [String: Onnx_AttributeProto]

    init(node: String, opType: String, protos: [Onnx_AttributeProto]) {
        self.node = node
        self.opType = opType
        values = Dictionary(protos.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    var names: [String] { values.keys.sorted() }

    /// A copy with `name` set to a list of integers (graph rewrites use it, e.g. to widen a Conv's pads).
    func setting(_ name: String, ints: [Int]) -> NodeAttributes {
        var proto = Onnx_AttributeProto()
        proto.name = name
        proto.type = .ints
        proto.ints = ints.map(Int64.init)
        var copy = values
        copy[name] = proto
        return NodeAttributes(node: node, opType: opType, protos: Array(copy.values))
    }

    /// A copy without attribute `name`.
    func removing(_ name: String) -> NodeAttributes {
        NodeAttributes(node: node, opType: opType, protos: values.filter { $0.key != name }.map(\.value))
    }

    func has(_ name: String) -> Bool { values[name] != nil }

    func invalid(_ attribute: String, _ reason: String) -> EngineError {
        .invalidAttribute(node: node, opType: opType, attribute: attribute, reason: reason)
    }

    private func attribute(_ name: String, _ kind: Onnx_AttributeProto.AttributeType) throws -> Onnx_AttributeProto? {
        guard let value = values[name] else { return nil }
        // Old exporters leave `type` unset; then trust the field that is present.
        if value.hasType, value.type != kind {
            throw invalid(name, "must be \(kind), is \(value.type)")
        }
        return value
    }

    func int(_ name: String) throws -> Int? {
        guard let value = try attribute(name, .int) else { return nil }
        guard let int = Int(exactly: value.i) else { throw invalid(name, "value \(value.i) is out of range") }
        return int
    }

    func int(_ name: String, default defaultValue: Int) throws -> Int { try int(name) ?? defaultValue }

    func ints(_ name: String) throws -> [Int]? {
        guard let value = try attribute(name, .ints) else { return nil }
        return value.ints.map { Int($0) }
    }

    func float(_ name: String) throws -> Float? {
        try attribute(name, .float)?.f
    }

    func float(_ name: String, default defaultValue: Float) throws -> Float { try float(name) ?? defaultValue }

    func floats(_ name: String) throws -> [Float]? {
        try attribute(name, .floats)?.floats
    }

    func string(_ name: String) throws -> String? {
        guard let value = try attribute(name, .string) else { return nil }
        return String(decoding: value.s, as: UTF8.self)
    }

    func string(_ name: String, default defaultValue: String) throws -> String { try string(name) ?? defaultValue }

    func strings(_ name: String) throws -> [String]? {
        try attribute(name, .strings)?.strings.map { String(decoding: $0, as: UTF8.self) }
    }

    func tensor(_ name: String, modelDirectory: URL?) throws -> Tensor? {
        guard let value = try attribute(name, .tensor) else { return nil }
        return try Tensor(proto: value.t, modelDirectory: modelDirectory)
    }

    func graph(_ name: String) throws -> Onnx_GraphProto? {
        try attribute(name, .graph)?.g
    }

    /// Every graph-valued attribute (If's branches, Loop's and Scan's body), by attribute name.
    var subgraphs: [Onnx_GraphProto] {
        values.keys.sorted().flatMap { name -> [Onnx_GraphProto] in
            let value = values[name]!
            return (value.hasG ? [value.g] : []) + value.graphs
        }
    }

    /// Whether the attribute is a sparse tensor (a `Constant` form the engine does not support).
    func isSparseTensor(_ name: String) -> Bool { values[name]?.hasSparseTensor ?? false }

    /// The value of a boolean-as-int attribute, validated to be 0 or 1.
    func flag(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let value = try int(name) else { return defaultValue }
        guard value == 0 || value == 1 else { throw invalid(name, "must be 0 or 1, is \(value)") }
        return value == 1
    }
}
