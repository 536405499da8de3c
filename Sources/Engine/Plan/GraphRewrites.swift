import Foundation

/// Rewrites on the decoded graph that need its constants, applied before operators are compiled.
extension Graph {
    /// Folds an inference-mode BatchNormalization into the Conv that feeds it, when the Conv's
    /// weights and the normalisation's parameters are constants and nothing else reads the Conv's
    /// output: W' = W · s, B' = (B − mean) · s + β with s = γ / √(var + ε), per output channel.
    /// (PyTorch folds these itself when exporting in eval mode; TensorFlow exports often don't.)
    mutating func foldBatchNormalizationIntoConv() {
        var readers: [String: Int] = [:]
        for node in nodes { for input in node.inputs { readers[input, default: 0] += 1 } }
        let outputs = Set(self.outputs.map(\.name))
        var producer: [String: Int] = [:]
        for (index, node) in nodes.enumerated() { for output in node.outputs { producer[output] = index } }
        var removed = Set<Int>()
        for (index, norm) in nodes.enumerated() where norm.opType == "BatchNormalization" && norm.domain.isEmpty {
            guard norm.outputs.count == 1, norm.inputs.count == 5,
                  let convIndex = producer[norm.inputs[0]], !removed.contains(convIndex),
                  readers[norm.inputs[0]] == 1, !outputs.contains(norm.inputs[0])
            else { continue }
            let conv = nodes[convIndex]
            guard conv.opType == "Conv", conv.domain.isEmpty, conv.inputs.count >= 2,
                  let weight = constants[conv.inputs[1]], weight.dataType == .float, weight.rank >= 3,
                  let parameters = Optional(norm.inputs[1...4].compactMap { constants[$0] }), parameters.count == 4,
                  parameters.allSatisfy({ $0.dataType == .float && $0.count == weight.shape[0] }),
                  (try? norm.attributes.flag("training_mode", default: false)) == false,
                  let epsilon = try? norm.attributes.float("epsilon", default: 1e-5)
            else { continue }
            let bias = conv.inputs.count > 2 && !conv.inputs[2].isEmpty ? constants[conv.inputs[2]] : nil
            if conv.inputs.count > 2 && !conv.inputs[2].isEmpty && bias == nil { continue }
            let (gamma, beta, mean, variance) = (parameters[0].floatArray(), parameters[1].floatArray(),
                                                 parameters[2].floatArray(), parameters[3].floatArray())
            let channels = weight.shape[0], perChannel = weight.count / channels
            var newWeight = weight.floatArray()
            var newBias = bias?.floatArray() ?? Array(repeating: 0, count: channels)
            for c in 0..<channels {
                let scale = gamma[c] / (variance[c] + epsilon).squareRoot()
                for i in 0..<perChannel { newWeight[c * perChannel + i] *= scale }
                newBias[c] = (newBias[c] - mean[c]) * scale + beta[c]
            }
            let weightName = "\(conv.name)::folded_weight", biasName = "\(conv.name)::folded_bias"
            constants[weightName] = Tensor(shape: weight.shape, floats: newWeight)
            constants[biasName] = Tensor(shape: [channels], floats: newBias)
            nodes[convIndex].inputs = [conv.inputs[0], weightName, biasName]
            nodes[convIndex].outputs = norm.outputs
            removed.insert(index)
        }
        nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }
}
