import Foundation

/// Turns a decoded `Graph` into a `Plan`: operators compiled in topological order, constants
/// folded, activations fused, and a memory plan (the last reader of every intermediate).
extension Plan {
    /// `rules`: the graph rewrites to apply (tests turn them off to compare against the graph as written).
    convenience init(compiling source: Graph, rules: [RewriteRule] = GraphRewriter.standard) throws {
        var graph = source
        graph.captureOuterValues()
        // Constants first (Constant nodes, shape arithmetic on initializers), so the rewrites see
        // weights however the exporter wrote them; then the rewrites; then compile what is left.
        var remaining: [GraphNode] = []
        for node in try Self.topologicalOrder(graph) {
            if Self.isFoldable(node, constants: graph.constants) {
                try Self.fold(node, op: Self.compile(node, in: graph), into: &graph.constants)
            } else {
                remaining.append(node)
            }
        }
        graph.nodes = remaining
        GraphRewriter.rewrite(&graph, rules: rules)
        var nodes: [(node: GraphNode, op: any Operator)] = []
        for node in try Self.topologicalOrder(graph) {
            nodes.append((node, try Self.compile(node, in: graph)))
        }
        let graphOutputs = Set(graph.outputs.map(\.name))
        nodes = Self.fuseBiases(nodes, graphOutputs: graphOutputs, constants: graph.constants)
        nodes = Self.fuseActivations(nodes, graphOutputs: graphOutputs)
        try self.init(planning: nodes, graph: graph)
    }

    // MARK: Compiling one node

    private static func compile(_ node: GraphNode, in graph: Graph) throws -> any Operator {
        let opset = graph.opset(for: node.domain)
        let table = node.domain == GraphRewriter.internalDomain ? OperatorRegistry.internalFactories : OperatorRegistry.factories
        guard node.domain.isEmpty || node.domain == GraphRewriter.internalDomain, let factory = table[node.opType] else {
            throw EngineError.unsupportedOperator(opType: node.opType, domain: node.domain, opset: opset, node: node.name)
        }
        let context = NodeContext(
            name: node.name, opType: node.opType, domain: node.domain, opset: opset, attributes: node.attributes,
            inputCount: node.inputs.count, outputCount: node.outputs.count, modelDirectory: graph.modelDirectory,
            constantInputs: node.inputs.map { $0.isEmpty ? nil : graph.constants[$0] }, opsets: graph.opsets)
        return try factory(context)
    }

    // MARK: Order

    /// Kahn's algorithm over value names; also proves every input is produced somewhere.
    private static func topologicalOrder(_ graph: Graph) throws -> [GraphNode] {
        var available = Set(graph.inputs.map(\.name)).union(graph.constants.keys)
        available.insert("")
        var producers: [String: Int] = [:]
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if producers[output] != nil || available.contains(output) {
                    throw EngineError.invalidModel(reason: "value '\(output)' is produced more than once")
                }
                producers[output] = index
            }
        }
        for node in graph.nodes {
            for input in node.inputs where !available.contains(input) && producers[input] == nil {
                throw EngineError.missingValue(name: input, node: "node '\(node.name)' (\(node.opType))")
            }
        }
        for output in graph.outputs where !available.contains(output.name) && producers[output.name] == nil {
            throw EngineError.missingValue(name: output.name, node: "the graph's outputs")
        }
        var remaining = Array(graph.nodes.indices)
        var order: [GraphNode] = []
        while !remaining.isEmpty {
            var next: [Int] = []
            for index in remaining {
                let node = graph.nodes[index]
                if node.inputs.allSatisfy(available.contains) {
                    order.append(node)
                    available.formUnion(node.outputs)
                } else {
                    next.append(index)
                }
            }
            if next.count == remaining.count {
                throw EngineError.invalidModel(reason: "the graph has a cycle through node '\(graph.nodes[next[0]].name)'")
            }
            remaining = next
        }
        return order
    }

    // MARK: Constant folding

    private static let neverFolded: Set<String> = ["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial"]

    private static func isFoldable(_ node: GraphNode, constants: [String: Tensor]) -> Bool {
        !neverFolded.contains(node.opType) && node.inputs.allSatisfy { $0.isEmpty || constants[$0] != nil }
    }

    private static func fold(_ node: GraphNode, op: any Operator, into constants: inout [String: Tensor]) throws {
        let inputs = node.inputs.map { $0.isEmpty ? nil : constants[$0] }
        let outputs: [Tensor]
        do {
            outputs = try op.run(inputs, Workspace(maximumPooledBytes: 0))
        } catch let error as KernelError {
            throw EngineError.invalidInput(node: node.name, opType: node.opType, reason: error.reason)
        } catch RunInterruption.divisionByZero {
            // Constants divided by zero are the model's fault, not a request's.
            throw EngineError.invalidModel(reason: "\(node.opType) node '\(node.name)' divides constants by zero")
        } catch let interruption as RunInterruption {
            throw interruption.engineError(node: node.name, opType: node.opType)
        }
        for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
            constants[name] = value
        }
    }

    // MARK: Fusion

    /// Folds `Add(MatMul(x, W), b)` with a constant bias along the last axis into the MatMul's
    /// GEMM epilogue (PyTorch exports nn.Linear on 3-d inputs this way).
    private static func fuseBiases(_ nodes: [(node: GraphNode, op: any Operator)], graphOutputs: Set<String>,
                                   constants: [String: Tensor]) -> [(node: GraphNode, op: any Operator)] {
        var readers: [String: Int] = [:]
        for (node, _) in nodes { for input in node.inputs { readers[input, default: 0] += 1 } }
        var producerIndex: [String: Int] = [:]
        var result: [(node: GraphNode, op: any Operator)?] = []
        for (node, op) in nodes {
            var fusedIntoProducer = false
            if node.opType == "Add", node.domain.isEmpty, node.inputs.count == 2 {
                for (source, other) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
                    guard let index = producerIndex[source], readers[source] == 1, !graphOutputs.contains(source),
                          let producer = result[index], producer.node.opType == "MatMul",
                          let matmul = producer.op as? MatMul, let bias = constants[other],
                          let fused = matmul.fused(withBias: bias, weight: constants[producer.node.inputs[1]])
                    else { continue }
                    var fusedNode = producer.node
                    fusedNode.outputs = node.outputs
                    fusedNode.opType += "+Add"
                    result[index] = (fusedNode, fused)
                    for output in node.outputs { producerIndex[output] = index }
                    fusedIntoProducer = true
                    break
                }
            }
            if fusedIntoProducer { continue }
            for output in node.outputs { producerIndex[output] = result.count }
            result.append((node, op))
        }
        return result.compactMap { $0 }
    }

    /// Folds an activation into the Conv/Gemm/MatMul that feeds it when nothing else reads the
    /// intermediate value.
    private static func fuseActivations(_ nodes: [(node: GraphNode, op: any Operator)], graphOutputs: Set<String>)
        -> [(node: GraphNode, op: any Operator)]
    {
        var readers: [String: Int] = [:]
        for (node, _) in nodes { for input in node.inputs { readers[input, default: 0] += 1 } }
        var producerIndex: [String: Int] = [:]
        var result: [(node: GraphNode, op: any Operator)?] = []
        for (node, op) in nodes {
            if let activation = (op as? any ActivationOperator)?.fusableActivation,
               let source = node.inputs.first, let index = producerIndex[source],
               readers[source] == 1, !graphOutputs.contains(source),
               let producer = result[index], producer.node.outputs.count == 1,
               let fusing = producer.op as? any ActivationFusing
            {
                var fusedNode = producer.node
                fusedNode.outputs = node.outputs
                fusedNode.opType += "+" + activation.name
                result[index] = (fusedNode, fusing.fused(with: activation))
                for output in node.outputs { producerIndex[output] = index }
                continue
            }
            for output in node.outputs { producerIndex[output] = result.count }
            result.append((node, op))
        }
        return result.compactMap { $0 }
    }

    // MARK: Memory plan

    private convenience init(planning nodes: [(node: GraphNode, op: any Operator)], graph: Graph) throws {
        var slotOf: [String: Int] = [:]
        var initialSlots: [Tensor?] = []
        func slot(_ name: String) -> Int {
            if let existing = slotOf[name] { return existing }
            slotOf[name] = initialSlots.count
            initialSlots.append(graph.constants[name])
            return initialSlots.count - 1
        }
        let inputSlots = graph.inputs.map { slot($0.name) }
        var stepInputs: [[Int?]] = []
        var stepOutputs: [[Int?]] = []
        var lastReader: [Int: Int] = [:]
        for (index, (node, _)) in nodes.enumerated() {
            let inputs = node.inputs.map { $0.isEmpty ? nil : slot($0) }
            for case let input? in inputs { lastReader[input] = index }
            stepInputs.append(inputs)
            stepOutputs.append(node.outputs.map { $0.isEmpty ? nil : slot($0) })
        }
        let outputSlots = graph.outputs.map { slot($0.name) }
        let kept = Set(outputSlots)
        var releases = Array(repeating: [Int](), count: nodes.count)
        for (slot, index) in lastReader where !kept.contains(slot) && initialSlots[slot] == nil {
            releases[index].append(slot)
        }
        // An output nothing reads dies as soon as it is made.
        for (index, outputs) in stepOutputs.enumerated() {
            for case let output? in outputs where lastReader[output] == nil && !kept.contains(output) {
                releases[index].append(output)
            }
        }
        let steps = nodes.indices.map { index in
            Step(name: nodes[index].node.name, opType: nodes[index].node.opType, op: nodes[index].op,
                 inputs: stepInputs[index], outputs: stepOutputs[index], releases: releases[index].sorted())
        }
        self.init(inputs: graph.inputs, outputs: graph.outputs, opsets: graph.opsets, producer: graph.producer,
                  steps: steps, initialSlots: initialSlots, inputSlots: inputSlots, outputSlots: outputSlots)
    }
}
