import Foundation

/// Rewrites on the decoded graph that need its constants, applied before operators are compiled.
extension Graph {
    /// Folds an inference-mode BatchNormalization into the layer that feeds it, when the layer's
    /// weights and the normalisation's parameters are constants and nothing else reads the layer's
    /// output. With s = γ / √(var + ε) per channel, each output channel c of the layer is scaled by
    /// s[c] and its bias becomes (B − mean) · s + β:
    ///
    /// - Conv: W [Cout, Cin/g, …] scaled along axis 0;
    /// - ConvTranspose (group 1): W [Cin, Cout, …] scaled along axis 1;
    /// - MatMul on a declared 2-d input: W [K, N] scaled along axis 1, the bias added by a new Add
    ///   that the compiler then fuses into the GEMM.
    ///
    /// PyTorch folds Conv+BN itself when exporting in eval mode; BatchNorm1d after a Linear, BN after
    /// ConvTranspose, and TensorFlow exports are left to us.
    mutating func foldBatchNormalization() {
        var readers: [String: Int] = [:]
        for node in nodes { for input in node.inputs { readers[input, default: 0] += 1 } }
        let outputs = Set(self.outputs.map(\.name))
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { for output in node.outputs { producer[output] = index } }
        let inputRanks = Dictionary(inputs.map { ($0.name, $0.shape?.count ?? -1) }, uniquingKeysWith: { first, _ in first })
        var removed = Set<Int>()
        var appended: [GraphNode] = []
        for (index, norm) in nodes.enumerated() where norm.opType == "BatchNormalization" && norm.domain.isEmpty {
            guard norm.outputs.count == 1, norm.inputs.count == 5,
                  let layerIndex = producer[norm.inputs[0]], !removed.contains(layerIndex),
                  readers[norm.inputs[0]] == 1, !outputs.contains(norm.inputs[0]),
                  (try? norm.attributes.flag("training_mode", default: false)) == false,
                  let epsilon = try? norm.attributes.float("epsilon", default: 1e-5)
            else { continue }
            let layer = nodes[layerIndex]
            guard layer.domain.isEmpty, layer.inputs.count >= 2, let weight = constants[layer.inputs[1]],
                  weight.dataType == .float else { continue }
            let channelAxis: Int
            switch layer.opType {
            case "Conv" where weight.rank >= 3:
                channelAxis = 0
            case "ConvTranspose" where weight.rank >= 3 && (try? layer.attributes.int("group", default: 1)) == 1:
                channelAxis = 1
            case "MatMul" where weight.rank == 2 && inputRanks[layer.inputs[0]] == 2:
                channelAxis = 1
            default:
                continue
            }
            let channels = weight.shape[channelAxis]
            let parameters = norm.inputs[1...4].compactMap { constants[$0] }
            guard parameters.count == 4, parameters.allSatisfy({ $0.dataType == .float && $0.count == channels }) else { continue }
            let hasBias = layer.opType != "MatMul" && layer.inputs.count > 2 && !layer.inputs[2].isEmpty
            let bias = hasBias ? constants[layer.inputs[2]] : nil
            if hasBias && bias == nil { continue }

            let (gamma, beta, mean, variance) = (parameters[0].floatArray(), parameters[1].floatArray(),
                                                 parameters[2].floatArray(), parameters[3].floatArray())
            let scales = (0..<channels).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
            var newWeight = weight.floatArray()
            // Index of the channel an element of W belongs to: weight.shape[channelAxis] varies with stride `inner`.
            let inner = weight.shape[(channelAxis + 1)...].reduce(1, *)
            for i in newWeight.indices { newWeight[i] *= scales[(i / inner) % channels] }
            var newBias = bias?.floatArray() ?? Array(repeating: 0, count: channels)
            for c in 0..<channels { newBias[c] = (newBias[c] - mean[c]) * scales[c] + beta[c] }

            let weightName = "\(layer.name)::folded_weight", biasName = "\(layer.name)::folded_bias"
            constants[weightName] = Tensor(shape: weight.shape, floats: newWeight)
            constants[biasName] = Tensor(shape: [channels], floats: newBias)
            if layer.opType == "MatMul" {
                let product = "\(layer.name)::folded_product"
                nodes[layerIndex].inputs = [layer.inputs[0], weightName]
                nodes[layerIndex].outputs = [product]
                appended.append(GraphNode(name: "\(norm.name)::bias", opType: "Add", domain: "", inputs: [product, biasName],
                                          outputs: norm.outputs, attributes: NodeAttributes(node: norm.name, opType: "Add", protos: [])))
            } else {
                nodes[layerIndex].inputs = [layer.inputs[0], weightName, biasName]
                nodes[layerIndex].outputs = norm.outputs
            }
            removed.insert(index)
        }
        nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element) + appended
    }
}
