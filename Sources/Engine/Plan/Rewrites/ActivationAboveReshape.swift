/// An activation that a Reshape keeps from the layer computing its input, moved above the Reshape so the compiler can
/// fuse it into that layer's store.
///
/// tf2onnx writes a Keras Dense layer on a sequence (BERT's feed-forward) as Reshape → MatMul → Reshape, the last
/// Reshape's shape computed at run time, and the activation (Gelu, ReLU…) after it: a separate pass over the layer's
/// largest output. An element-wise activation gives the same elements whatever the shape they are read in, so
/// act(Reshape(y)) = Reshape(act(y)).
extension RewriteRule {
    /// Activations the compiler fuses into a layer (`ActivationOperator.fusableActivation`), by op type; Clip fuses
    /// only with constant bounds, which its other inputs carry along unchanged.
    private static let fusableActivations: Set<String> = [
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "Clip", "SiLU",
    ]
    /// Ops that only reinterpret the shape of their first input.
    private static let reshapes: Set<String> = ["Reshape", "Flatten", "Squeeze", "Unsqueeze"]
    /// Layers an activation fuses into, and the bias Add the compiler folds into a MatMul or Gemm first.
    private static let fusingLayers: Set<String> = ["MatMul", "Gemm", "Conv", "Add"]

    /// act(Reshape(layer(…))) → Reshape(act(layer(…))), each intermediate read by the next node alone: the activation
    /// takes the Reshape's place in the node list (reading the layer's output), and the Reshape the activation's
    /// (reading the activation's, and writing the value the activation wrote).
    static let activationAboveReshape = RewriteRule(name: "move an activation above a Reshape") { graph, index, uses in
        let activation = graph.nodes[index]
        let isInternal = activation.domain == GraphRewriter.internalDomain
        guard fusableActivations.contains(activation.opType), activation.domain.isEmpty || (isInternal && activation.opType == "SiLU"),
              activation.outputs.count == 1, let reshaped = activation.inputs.first,
              let reshapeIndex = uses.privateProducer(of: reshaped), reshapeIndex < index else { return false }
        let reshape = graph.nodes[reshapeIndex]
        guard reshapes.contains(reshape.opType), reshape.domain.isEmpty, reshape.outputs.count == 1,
              let source = reshape.inputs.first, let layerIndex = uses.privateProducer(of: source),
              fusingLayers.contains(graph.nodes[layerIndex].opType), graph.nodes[layerIndex].domain.isEmpty,
              // The activation's other inputs (Clip's bounds) must exist where it moves to.
              activation.inputs.dropFirst().allSatisfy({ uses.producer[$0].map { $0 < reshapeIndex } ?? true })
        else { return false }
        // A new name for the activated, not yet reshaped value: `reshaped` had the other shape, and nothing else read it.
        let activated = reshaped + "/deepserve.activated"
        var hoisted = activation
        hoisted.inputs[0] = source
        hoisted.outputs = [activated]
        var moved = reshape
        moved.inputs[0] = activated
        moved.outputs = activation.outputs
        graph.nodes[reshapeIndex] = hoisted
        graph.nodes[index] = moved
        return true
    }
}
