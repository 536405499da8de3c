import Foundation
import ONNXProto

/// What a model file declares, read without compiling it, so that a model with unsupported
/// operators can still be described (`deepserve inspect`).
public struct ModelSummary: Sendable {
    public let producer: String
    public let irVersion: Int
    public let opsets: [String: Int]
    public let inputs: [ValueInfo]
    public let outputs: [ValueInfo]
    /// Node count per op type (domain-qualified outside the default domain), subgraphs' nodes included.
    public let operatorCounts: [String: Int]
    /// Op types the engine has no kernel for.
    public let unsupportedOperators: [String]
    public let parameterCount: Int
    public let parameterBytes: Int

    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw EngineError.io(path: url.path, reason: error.localizedDescription) }
        try self.init(modelData: data, modelDirectory: url.deletingLastPathComponent())
    }

    public init(modelData: Data, modelDirectory: URL? = nil) throws {
        let graph = try Graph(modelData: modelData, modelDirectory: modelDirectory)
        producer = graph.producer
        irVersion = graph.irVersion
        opsets = graph.opsets
        inputs = graph.inputs
        outputs = graph.outputs
        var counts: [String: Int] = [:]
        var unsupported = Set<String>()
        func count(opType: String, domain: String) {
            let domain = domain == "ai.onnx" ? "" : domain
            let name = domain.isEmpty ? opType : "\(domain).\(opType)"
            counts[name, default: 0] += 1
            if !domain.isEmpty || OperatorRegistry.factories[opType] == nil { unsupported.insert(name) }
        }
        // Nodes of subgraphs (If branches, Loop and Scan bodies) count too: the plan compiles them.
        func count(subgraph: Onnx_GraphProto) {
            for node in subgraph.node {
                count(opType: node.opType, domain: node.domain)
                for attribute in node.attribute {
                    for nested in (attribute.hasG ? [attribute.g] : []) + attribute.graphs { count(subgraph: nested) }
                }
            }
        }
        for node in graph.nodes {
            count(opType: node.opType, domain: node.domain)
            node.attributes.subgraphs.forEach(count(subgraph:))
        }
        operatorCounts = counts
        unsupportedOperators = unsupported.sorted()
        // Weights are initializers, or — as PaddlePaddle and some TensorFlow exports write them — Constant nodes.
        let constantNodeValues = graph.nodes.filter { $0.opType == "Constant" && $0.domain.isEmpty }
            .compactMap { try? $0.attributes.tensor("value", modelDirectory: modelDirectory) }
        let weights = Array(graph.constants.values) + constantNodeValues
        parameterCount = weights.reduce(0) { $0 + $1.count }
        parameterBytes = weights.reduce(0) { $0 + $1.byteCount }
    }

    /// The op types the engine supports, sorted.
    public static var supportedOperators: [String] { OperatorRegistry.supportedOpTypes }
}

extension Plan.StepRecord {
    /// Multiply-adds × 2 for the compute-heavy ops, one per output element for the rest.
    public var estimatedFLOPs: Double {
        let outputElements = Double(outputShapes.first?.reduce(1, *) ?? 0)
        let baseType = opType.split(separator: "+").first.map(String.init) ?? opType
        switch baseType {
        case "Conv":
            guard let weight = inputShapes.count > 1 ? inputShapes[1] : nil else { return outputElements }
            return 2 * outputElements * Double(weight.dropFirst().reduce(1, *))
        case "ConvTranspose":
            guard let input = inputShapes.first ?? nil, let weight = inputShapes.count > 1 ? inputShapes[1] : nil else { return outputElements }
            return 2 * Double(input.reduce(1, *)) * Double(weight.dropFirst().reduce(1, *))
        case "Gemm", "MatMul":
            guard let a = inputShapes.first ?? nil, let k = a.last else { return outputElements }
            return 2 * outputElements * Double(k)
        case "LSTM", "GRU", "RNN":
            guard let x = inputShapes.first ?? nil, let w = inputShapes.count > 1 ? inputShapes[1] : nil,
                  let r = inputShapes.count > 2 ? inputShapes[2] : nil, x.count == 3, w.count == 3, r.count == 3 else { return outputElements }
            let tokens = Double(x[0] * x[1])
            return 2 * tokens * Double(w[0] * w[1]) * Double(w[2] + r[2])
        default:
            return outputElements
        }
    }
}
