import Foundation
import ONNXProto
@testable import Engine

/// Builds small ONNX models in memory for tests, through the same protobuf types the loader reads.
struct ModelBuilder {
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    var inputs: [Onnx_ValueInfoProto] = []
    var outputs: [Onnx_ValueInfoProto] = []
    var opset = 17

    /// A dimension: an Int for a fixed size, a String for a symbolic one.
    enum Dim: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
        case fixed(Int), symbolic(String)
        init(integerLiteral value: Int) { self = .fixed(value) }
        init(stringLiteral value: String) { self = .symbolic(value) }
    }

    static func valueInfo(_ name: String, _ type: Int32, _ dims: [Dim]) -> Onnx_ValueInfoProto {
        var info = Onnx_ValueInfoProto()
        info.name = name
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = type
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { dim in
            var d = Onnx_TensorShapeProto.Dimension()
            switch dim {
            case .fixed(let value): d.dimValue = Int64(value)
            case .symbolic(let name): d.dimParam = name
            }
            return d
        }
        tensorType.shape = shape
        info.type.tensorType = tensorType
        return info
    }

    mutating func input(_ name: String, _ dims: [Dim], type: Int32 = 1) { inputs.append(Self.valueInfo(name, type, dims)) }
    mutating func output(_ name: String, _ dims: [Dim], type: Int32 = 1) { outputs.append(Self.valueInfo(name, type, dims)) }

    mutating func initializer(_ name: String, _ shape: [Int], floats: [Float]) {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = 1
        tensor.dims = shape.map { Int64($0) }
        tensor.rawData = floats.withUnsafeBytes { Data($0) }
        initializers.append(tensor)
    }

    mutating func initializer(_ name: String, _ shape: [Int], int64s: [Int64]) {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dataType = 7
        tensor.dims = shape.map { Int64($0) }
        tensor.int64Data = int64s
        initializers.append(tensor)
    }

    mutating func node(_ opType: String, _ inputs: [String], _ outputs: [String], name: String? = nil, domain: String = "",
                       attributes: [Onnx_AttributeProto] = []) {
        var node = Onnx_NodeProto()
        node.opType = opType
        node.input = inputs
        node.output = outputs
        node.name = name ?? "\(opType)_\(nodes.count)"
        node.domain = domain
        node.attribute = attributes
        nodes.append(node)
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map { Int64($0) }
        return attribute
    }

    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .float
        attribute.f = value
        return attribute
    }

    static func tensor(_ name: String, _ value: Onnx_TensorProto) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .tensor
        attribute.t = value
        return attribute
    }

    var proto: Onnx_ModelProto {
        var model = Onnx_ModelProto()
        model.irVersion = 8
        model.producerName = "deepserve-tests"
        var opsetID = Onnx_OperatorSetIdProto()
        opsetID.version = Int64(opset)
        model.opsetImport = [opsetID]
        var graph = Onnx_GraphProto()
        graph.name = "test"
        graph.node = nodes
        graph.initializer = initializers
        graph.input = inputs
        graph.output = outputs
        model.graph = graph
        return model
    }

    func data() throws -> Data { try proto.serializedData() }

    func plan() throws -> Plan { try Plan(modelData: try data()) }
}

/// Deterministic test data.
struct TestRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
    mutating func floats(_ count: Int) -> [Float] { (0..<count).map { _ in next() } }
}

extension Tensor {
    var floatValues: [Float] { floatArray() }
}

func assertClose(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-4, _ message: String = "",
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) ≠ \(expected.count) \(message)", file: file, line: line)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() where abs(a - e) > tolerance * max(1, abs(e)) {
        XCTFail("element \(i): \(a) ≠ \(e) \(message)", file: file, line: line)
        return
    }
}

import XCTest
