import Foundation
import ONNXProto
import SwiftProtobuf

/// One node as the compiler sees it: names in and out, and its parsed attributes.
struct GraphNode {
    var name: String
    var opType: String
    var domain: String
    var inputs: [String]
    var outputs: [String]
    var attributes: NodeAttributes
}

/// A decoded ONNX graph: the step between the protobuf and the compiled plan.
struct Graph {
    var nodes: [GraphNode]
    /// Initializers and the outputs of `Constant` nodes.
    var constants: [String: Tensor]
    /// Graph inputs that must be fed at run time (initializers excluded).
    var inputs: [ValueInfo]
    var outputs: [ValueInfo]
    /// Opset version per domain ("" is the default ONNX domain).
    var opsets: [String: Int]
    var modelDirectory: URL?
    var irVersion: Int
    var producer: String

    /// Decodes `data` as an ONNX `ModelProto` and checks what the compiler relies on.
    init(modelData data: Data, modelDirectory: URL?) throws {
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 64
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw EngineError.notAModel(reason: "protobuf decoding failed (\(error)); is the file truncated or not an .onnx file?")
        }
        guard model.hasGraph, model.irVersion > 0 else {
            throw EngineError.notAModel(reason: "no graph or IR version found (\(data.count) bytes); is this an .onnx file?")
        }
        self.modelDirectory = modelDirectory
        irVersion = Int(model.irVersion)
        producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")

        var opsets: [String: Int] = [:]
        for entry in model.opsetImport {
            let domain = entry.domain == "ai.onnx" ? "" : entry.domain
            guard Self.plausibleOpsets.contains(entry.version) else {
                throw EngineError.invalidModel(
                    reason: "the model imports opset \(entry.version) of domain '\(domain.isEmpty ? "ai.onnx" : domain)', which no ONNX release defines")
            }
            opsets[domain] = Int(entry.version)
        }
        // IR version 3 and older models without opset_import used opset 1.
        if opsets[""] == nil { opsets[""] = 1 }
        self.opsets = opsets

        (nodes, constants, inputs, outputs) = try Self.decode(model.graph, modelDirectory: modelDirectory)
        for value in inputs + outputs where value.dataType == nil {
            throw EngineError.unsupportedDataType(value.onnxTypeName, context: "graph value '\(value.name)'")
        }
    }

    /// A subgraph of a control-flow node (If, Loop, Scan): its declared inputs, then the outer
    /// values it reads (`captured`, typed at run time), as inputs of its own plan.
    init(subgraph proto: Onnx_GraphProto, captured: [String], opsets: [String: Int], modelDirectory: URL?) throws {
        self.opsets = opsets
        self.modelDirectory = modelDirectory
        irVersion = 0
        producer = ""
        (nodes, constants, inputs, outputs) = try Self.decode(proto, modelDirectory: modelDirectory)
        inputs += captured.map { ValueInfo(name: $0, dataType: nil, onnxTypeName: "outer value", shape: nil) }
    }

    private static func decode(_ graph: Onnx_GraphProto, modelDirectory: URL?) throws
        -> (nodes: [GraphNode], constants: [String: Tensor], inputs: [ValueInfo], outputs: [ValueInfo])
    {
        var constants: [String: Tensor] = [:]
        for initializer in graph.initializer {
            guard !initializer.name.isEmpty else {
                throw EngineError.invalidModel(reason: "an initializer has no name")
            }
            constants[initializer.name] = try Tensor(proto: initializer, modelDirectory: modelDirectory)
        }
        if !graph.sparseInitializer.isEmpty {
            throw EngineError.unsupportedDataType("sparse tensor", context: "graph initializers")
        }
        let inputs = graph.input.filter { constants[$0.name] == nil }.map(ValueInfo.init(proto:))
        let outputs = graph.output.map(ValueInfo.init(proto:))
        var nodes: [GraphNode] = []
        for (index, proto) in graph.node.enumerated() {
            let name = proto.name.isEmpty ? "\(proto.opType)_\(index)" : proto.name
            let domain = proto.domain == "ai.onnx" ? "" : proto.domain
            guard domain != GraphRewriter.internalDomain else {
                // Reserved for the nodes the rewrites create; a file naming it is not ours to trust.
                throw EngineError.unsupportedOperator(opType: proto.opType, domain: domain, opset: 0, node: name)
            }
            let node = GraphNode(
                name: name, opType: proto.opType, domain: domain, inputs: proto.input, outputs: proto.output,
                attributes: NodeAttributes(node: name, opType: proto.opType, protos: proto.attribute))
            nodes.append(node)
        }
        return (nodes, constants, inputs, outputs)
    }

    func opset(for domain: String) -> Int { opsets[domain] ?? 0 }

    /// Opset versions a real model can import: ONNX adds about one a release (28 in 2026), so
    /// anything outside this range is a corrupt field, not a newer model.
    static let plausibleOpsets: ClosedRange<Int64> = 1...1000
}
