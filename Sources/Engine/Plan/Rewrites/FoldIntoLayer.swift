import Foundation

/// Rules that fold constant arithmetic into the layer before it, so it runs inside the layer's
/// weights and bias instead of as another pass over the feature map.
extension RewriteRule {
    /// An inference-mode BatchNormalization after a Conv, ConvTranspose (group 1) or a MatMul on a
    /// declared 2-d input, when the layer's weights and the normalisation's parameters are constants.
    /// With s = γ / √(var + ε) per channel, each output channel c is scaled by s[c] and its bias
    /// becomes (B − mean) · s + β. PyTorch folds Conv+BN itself when exporting in eval mode;
    /// BatchNorm1d after a Linear, BN after ConvTranspose, PaddlePaddle and TensorFlow exports are left to us.
    static let foldBatchNormalization = RewriteRule(name: "fold BatchNormalization") { graph, index, uses in
        let norm = graph.nodes[index]
        guard norm.opType == "BatchNormalization", norm.domain.isEmpty, norm.outputs.count == 1, norm.inputs.count == 5,
              (try? norm.attributes.flag("training_mode", default: false)) == false,
              let epsilon = try? norm.attributes.float("epsilon", default: 1e-5),
              let layerIndex = uses.privateProducer(of: norm.inputs[0]),
              let target = LayerChannels(graph, layerIndex)
        else { return false }
        let parameters = norm.inputs[1...4].compactMap { graph.constants[$0] }
        guard parameters.count == 4, parameters.allSatisfy({ $0.dataType == .float && $0.count == target.channels })
        else { return false }
        let (gamma, beta, mean, variance) = (parameters[0].floatArray(), parameters[1].floatArray(),
                                             parameters[2].floatArray(), parameters[3].floatArray())
        let scales = (0..<target.channels).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
        let shifts = (0..<target.channels).map { beta[$0] - mean[$0] * scales[$0] }
        target.fold(scales: scales, shifts: shifts, replacing: index, in: &graph)
        return true
    }

    /// Mul by a per-channel (or scalar) constant after a layer: scales the layer's weights and bias.
    /// TensorFlow exports write an inference BatchNorm this way (Mul, then Add).
    static let foldChannelScaleIntoConv = RewriteRule(name: "fold channel scale") { graph, index, uses in
        guard let (values, target) = channelConstant(after: "Mul", graph, index, uses) else { return false }
        target.fold(scales: values, shifts: nil, replacing: index, in: &graph)
        return true
    }

    /// Add of a per-channel (or scalar) constant after a layer: goes into the layer's bias.
    static let foldChannelShiftIntoConv = RewriteRule(name: "fold channel shift") { graph, index, uses in
        guard let (values, target) = channelConstant(after: "Add", graph, index, uses) else { return false }
        target.fold(scales: nil, shifts: values, replacing: index, in: &graph)
        return true
    }

    /// `opType`(layer output, constant) or (constant, layer output) at `index`, the node being the
    /// only reader of a Conv or ConvTranspose, and the constant per-channel. (Not MatMul: its fold
    /// writes an Add of the bias, which this rule would match again.)
    private static func channelConstant(after opType: String, _ graph: Graph, _ index: Int, _ uses: GraphUses)
        -> ([Float], LayerChannels)?
    {
        let node = graph.nodes[index]
        guard node.opType == opType, node.domain.isEmpty, node.inputs.count == 2, node.outputs.count == 1 else { return nil }
        for (source, other) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
            guard let layerIndex = uses.privateProducer(of: source), ["Conv", "ConvTranspose"].contains(graph.nodes[layerIndex].opType),
                  let target = LayerChannels(graph, layerIndex),
                  let values = graph.channelVector(other, channels: target.channels, axis: 1, rank: target.outputRank)
            else { continue }
            return (values, target)
        }
        return nil
    }

    /// A Pad that only adds zeros around the spatial dimensions, read by one Conv: becomes the Conv's own
    /// padding (Keras/TensorFlow exports pad explicitly before strided convolutions).
    static let foldPadIntoConv = RewriteRule(name: "fold Pad into Conv") { graph, index, uses in
        let pad = graph.nodes[index]
        guard pad.opType == "Pad", pad.domain.isEmpty, pad.outputs.count == 1,
              let convIndex = uses.readers[pad.outputs[0]].flatMap({ $0.count == 1 ? $0[0] : nil }),
              !uses.graphOutputs.contains(pad.outputs[0])
        else { return false }
        let conv = graph.nodes[convIndex]
        guard conv.opType == "Conv", conv.domain.isEmpty, conv.inputs.first == pad.outputs[0], conv.inputs.count >= 2,
              let weight = graph.constants[conv.inputs[1]], weight.rank >= 3,
              (try? pad.attributes.string("mode", default: "constant")) == "constant",
              ["NOTSET", "VALID"].contains((try? conv.attributes.string("auto_pad", default: "NOTSET")) ?? "")
        else { return false }
        let rank = weight.rank
        // Pads as attribute (opset < 11) or as a constant input, with an optional zero fill value and no axes input.
        let pads: [Int]
        if graph.opset(for: "") < 11 {
            guard let attribute = try? pad.attributes.ints("pads"), (try? pad.attributes.float("value", default: 0)) == 0 else { return false }
            pads = attribute
        } else {
            guard pad.inputs.count >= 2, let tensor = graph.constants[pad.inputs[1]], tensor.dataType == .int64 else { return false }
            if pad.inputs.count >= 3, !pad.inputs[2].isEmpty {
                guard let fill = graph.constants[pad.inputs[2]], fill.count == 1, fill.dataType == .float,
                      fill.floatArray()[0] == 0 else { return false }
            }
            if pad.inputs.count >= 4, !pad.inputs[3].isEmpty { return false }
            pads = tensor.int64Array().compactMap { Int(exactly: $0) }
        }
        guard pads.count == 2 * rank, pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 20 }),
              pads[0] == 0, pads[1] == 0, pads[rank] == 0, pads[rank + 1] == 0
        else { return false }
        let spatial = rank - 2
        let existing = (try? conv.attributes.ints("pads")) ?? Array(repeating: 0, count: 2 * spatial)
        guard existing.count == 2 * spatial else { return false }
        let begins = (0..<spatial).map { existing[$0] + pads[2 + $0] }
        let ends = (0..<spatial).map { existing[spatial + $0] + pads[rank + 2 + $0] }
        graph.nodes[convIndex].attributes = conv.attributes.removing("auto_pad").setting("pads", ints: begins + ends)
        graph.nodes[convIndex].inputs[0] = pad.inputs[0]
        graph.removeNode(index)
        return true
    }
}

/// A layer whose output channels can absorb a per-channel affine map y' = y · s + t: its weights
/// are scaled along the output-channel axis and its bias becomes B · s + t.
struct LayerChannels {
    let layerIndex: Int
    let channels: Int
    /// Rank of the layer's output (the weight's rank for convolutions; 2 for the MatMul case).
    let outputRank: Int
    private let weight: Tensor
    private let channelAxis: Int
    private let bias: Tensor?
    private let isMatMul: Bool

    init?(_ graph: Graph, _ layerIndex: Int) {
        let layer = graph.nodes[layerIndex]
        guard layer.domain.isEmpty, layer.outputs.count == 1, layer.inputs.count >= 2,
              let weight = graph.constants[layer.inputs[1]], weight.dataType == .float else { return nil }
        switch layer.opType {
        case "Conv" where weight.rank >= 3:
            channelAxis = 0
            outputRank = weight.rank
        case "ConvTranspose" where weight.rank >= 3 && (try? layer.attributes.int("group", default: 1)) == 1:
            channelAxis = 1
            outputRank = weight.rank
        case "MatMul" where weight.rank == 2 && graph.inputs.first(where: { $0.name == layer.inputs[0] })?.shape?.count == 2:
            channelAxis = 1
            outputRank = 2
        default:
            return nil
        }
        isMatMul = layer.opType == "MatMul"
        let hasBias = !isMatMul && layer.inputs.count > 2 && !layer.inputs[2].isEmpty
        bias = hasBias ? graph.constants[layer.inputs[2]] : nil
        if hasBias && (bias == nil || bias?.dataType != .float || bias?.count != weight.shape[channelAxis]) { return nil }
        self.layerIndex = layerIndex
        self.weight = weight
        channels = weight.shape[channelAxis]
    }

    /// Folds y · scales + shifts into the layer and lets the layer produce node `replaced`'s output.
    func fold(scales: [Float]?, shifts: [Float]?, replacing replaced: Int, in graph: inout Graph) {
        let layer = graph.nodes[layerIndex]
        var weightName = layer.inputs[1]
        if let scales {
            var newWeight = weight.floatArray()
            // W's channel axis varies with stride `inner`.
            let inner = weight.shape[(channelAxis + 1)...].reduce(1, *)
            for i in newWeight.indices { newWeight[i] *= scales[(i / inner) % channels] }
            weightName = graph.uniqueConstantName("\(layer.name)::folded_weight")
            graph.constants[weightName] = Tensor(shape: weight.shape, floats: newWeight)
        }
        var newBias = bias?.floatArray() ?? Array(repeating: 0, count: channels)
        for c in 0..<channels { newBias[c] = newBias[c] * (scales?[c] ?? 1) + (shifts?[c] ?? 0) }
        let biasName = graph.uniqueConstantName("\(layer.name)::folded_bias")
        graph.constants[biasName] = Tensor(shape: [channels], floats: newBias)
        let outputs = graph.nodes[replaced].outputs
        if isMatMul {
            // MatMul has no bias input: an Add of the bias, which the compiler fuses into the GEMM.
            let product = graph.uniqueConstantName("\(layer.name)::folded_product")
            graph.nodes[layerIndex].inputs = [layer.inputs[0], weightName]
            graph.nodes[layerIndex].outputs = [product]
            graph.nodes[replaced] = GraphNode(name: "\(graph.nodes[replaced].name)::bias", opType: "Add", domain: "",
                                              inputs: [product, biasName], outputs: outputs,
                                              attributes: NodeAttributes(node: graph.nodes[replaced].name, opType: "Add", protos: []))
        } else {
            graph.nodes[layerIndex].inputs = [layer.inputs[0], weightName, biasName]
            graph.nodes[layerIndex].outputs = outputs
            graph.removeNode(replaced)
        }
    }
}

extension Graph {
    /// `base`, or `base` with a counter, whichever names no constant and no node output yet.
    func uniqueConstantName(_ base: String) -> String {
        var name = base, counter = 1
        while constants[name] != nil || nodes.contains(where: { $0.outputs.contains(name) }) {
            counter += 1
            name = "\(base)#\(counter)"
        }
        return name
    }
}
