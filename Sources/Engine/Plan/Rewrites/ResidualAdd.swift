/// A residual connection's Add folded into the convolution before it, so ResNet- and MobileNet-style blocks add their
/// shortcut in the GEMM's store (and the activation after the Add fuses there too) instead of in two more passes
/// over the feature map.
extension RewriteRule {
    /// Add(Conv(x, W, B), r) or Add(r, Conv(…)), the Conv's output read by the Add alone: becomes the internal
    /// `Conv+Add(x, W, B, r)` at the Add's place (where `r` is already computed). The kernel adds `r` in its store when
    /// `r` has the output's shape, and falls back to a broadcasting Add otherwise, so the rule needs no shapes.
    static let fuseResidualAdd = RewriteRule(name: "fuse residual Add into Conv") { graph, index, uses in
        let add = graph.nodes[index]
        guard add.opType == "Add", add.domain.isEmpty, add.inputs.count == 2, add.outputs.count == 1 else { return false }
        for (source, residual) in [(add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])] {
            guard !residual.isEmpty, let convIndex = uses.privateProducer(of: source) else { continue }
            let conv = graph.nodes[convIndex]
            guard conv.opType == "Conv", conv.domain.isEmpty, conv.outputs.count == 1, (2...3).contains(conv.inputs.count)
            else { continue }
            let bias = conv.inputs.count == 3 ? conv.inputs[2] : ""
            graph.nodes[index] = GraphNode(name: conv.name, opType: "Conv+Add", domain: GraphRewriter.internalDomain,
                                           inputs: [conv.inputs[0], conv.inputs[1], bias, residual], outputs: add.outputs,
                                           attributes: conv.attributes)
            graph.removeNode(convIndex)
            return true
        }
        return false
    }
}
