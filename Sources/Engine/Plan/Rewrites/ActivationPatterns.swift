import Foundation

/// Rules that recognise an activation written out as several nodes and replace the chain by one
/// activation node, which the compiler can then fuse into the Conv or GEMM before it.
extension RewriteRule {
    /// x · relu6(x + 3) / 6 in any of the spellings exporters use, or x · HardSigmoid(x) with
    /// α = 1/6, β = 1/2 → HardSwish(x). PaddlePaddle writes Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6);
    /// Keras (through tf2onnx) writes Mul(x, Mul(Clip(Add(x, 3), 0, 6), 1/6)).
    static let hardSwish = RewriteRule(name: "recognise HardSwish") { graph, index, uses in
        let node = graph.nodes[index]
        guard node.domain.isEmpty, node.inputs.count == 2, node.outputs.count == 1 else { return false }
        let matcher = PatternMatcher(graph: graph, uses: uses)
        var match: (x: String, chain: [Int])?
        switch node.opType {
        case "Div", "Mul":
            // (x · relu6(x + 3)) / 6, or · 1/6 on either side.
            let sixth = node.opType == "Div" ? [(node.inputs[0], node.inputs[1], Float(6))]
                                             : [(node.inputs[0], node.inputs[1], Float(1) / 6), (node.inputs[1], node.inputs[0], Float(1) / 6)]
            for (product, constant, expected) in sixth where matcher.isScalar(constant, expected) {
                guard let (mulIndex, mul) = matcher.privateNode(producing: product, opType: "Mul") else { continue }
                for (x, clipped) in [(mul.inputs[0], mul.inputs[1]), (mul.inputs[1], mul.inputs[0])] {
                    if let chain = matcher.relu6OfXPlus3(clipped, x: x) { match = (x, chain + [mulIndex]); break }
                }
                if match != nil { break }
            }
            guard match == nil, node.opType == "Mul" else { break }
            // x · (relu6(x + 3) / 6), x · (relu6(x + 3) · 1/6), x · HardSigmoid(x) with α = 1/6, β = 1/2.
            for (x, scaled) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
                if let chain = matcher.sixthOfRelu6(scaled, x: x) ?? matcher.hardSigmoidSixth(scaled, x: x) {
                    match = (x, chain)
                    break
                }
            }
        default:
            return false
        }
        guard let match else { return false }
        graph.replace(index, with: "HardSwish", domain: "", input: match.x, removing: match.chain)
        return true
    }

    /// x · Sigmoid(x) → SiLU(x) (Swish: EfficientNet, YOLO), an internal operator the compiler fuses.
    static let siLU = RewriteRule(name: "recognise SiLU") { graph, index, uses in
        let node = graph.nodes[index]
        guard node.opType == "Mul", node.domain.isEmpty, node.inputs.count == 2, node.outputs.count == 1 else { return false }
        let matcher = PatternMatcher(graph: graph, uses: uses)
        for (x, gate) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
            guard let (sigmoidIndex, sigmoid) = matcher.privateNode(producing: gate, opType: "Sigmoid"),
                  sigmoid.inputs.first == x else { continue }
            graph.replace(index, with: "SiLU", domain: GraphRewriter.internalDomain, input: x, removing: [sigmoidIndex])
            return true
        }
        return false
    }
}

extension RewriteRule {
    /// x/2 · (1 + erf(x/√2)) → Gelu(x), which the compiler fuses into the MatMul (+ bias) before
    /// it. Exporters spell it with the 1/2 and x multiplied in any order: PyTorch writes
    /// Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5), TensorFlow Mul(Mul(0.5, x), Add(1, Erf(Mul(x, 1/√2)))).
    static let gelu = RewriteRule(name: "recognise Gelu") { graph, index, uses in
        let node = graph.nodes[index]
        guard node.opType == "Mul", node.domain.isEmpty, node.inputs.count == 2, node.outputs.count == 1 else { return false }
        let matcher = PatternMatcher(graph: graph, uses: uses)
        for (u, v) in [(node.inputs[0], node.inputs[1]), (node.inputs[1], node.inputs[0])] {
            // (x · ½) · (1 + erf) and x · ((1 + erf) · ½)
            if let (x, chain) = matcher.onePlusErf(v) {
                if let halfIndex = matcher.halfOf(u, x: x) {
                    graph.replace(index, with: "Gelu", domain: "", input: x, removing: chain + [halfIndex])
                    return true
                }
            }
            if let (halvedIndex, halved) = matcher.privateNode(producing: v, opType: "Mul") {
                for (p, h) in [(halved.inputs[0], halved.inputs[1]), (halved.inputs[1], halved.inputs[0])] where matcher.isScalar(h, 0.5) {
                    if let (x, chain) = matcher.onePlusErf(p), x == u {
                        graph.replace(index, with: "Gelu", domain: "", input: x, removing: chain + [halvedIndex])
                        return true
                    }
                }
            }
            // (x · (1 + erf)) · ½
            if matcher.isScalar(v, 0.5), let (productIndex, product) = matcher.privateNode(producing: u, opType: "Mul") {
                for (x, p) in [(product.inputs[0], product.inputs[1]), (product.inputs[1], product.inputs[0])] {
                    if let (erfInput, chain) = matcher.onePlusErf(p), erfInput == x {
                        graph.replace(index, with: "Gelu", domain: "", input: x, removing: chain + [productIndex])
                        return true
                    }
                }
            }
        }
        return false
    }
}

/// Small questions the activation patterns ask of the graph.
private struct PatternMatcher {
    let graph: Graph
    let uses: GraphUses

    /// The node producing `value` if it is a default-domain `opType` and `value` is read only by the pattern.
    func privateNode(producing value: String, opType: String) -> (Int, GraphNode)? {
        guard let index = uses.privateProducer(of: value) else { return nil }
        let node = graph.nodes[index]
        guard node.opType == opType, node.domain.isEmpty, node.outputs.count == 1 else { return nil }
        return (index, node)
    }

    func isScalar(_ name: String, _ expected: Float) -> Bool {
        guard let value = graph.scalar(name) else { return false }
        return abs(value - expected) <= 1e-6 * max(1, abs(expected))
    }

    /// `value` = Clip(Add(x, 3), 0, 6): the nodes to remove, or nil.
    func relu6OfXPlus3(_ value: String, x: String) -> [Int]? {
        guard let (clipIndex, clip) = privateNode(producing: value, opType: "Clip"),
              let bounds = clipBounds(clip), bounds == (0, 6),
              let (addIndex, add) = privateNode(producing: clip.inputs[0], opType: "Add"), add.inputs.count == 2
        else { return nil }
        let plusThree = (add.inputs[0] == x && isScalar(add.inputs[1], 3)) || (add.inputs[1] == x && isScalar(add.inputs[0], 3))
        return plusThree ? [clipIndex, addIndex] : nil
    }

    /// `value` = relu6(x + 3) / 6 or relu6(x + 3) · 1/6.
    func sixthOfRelu6(_ value: String, x: String) -> [Int]? {
        if let (divIndex, div) = privateNode(producing: value, opType: "Div"), isScalar(div.inputs[1], 6),
           let chain = relu6OfXPlus3(div.inputs[0], x: x) {
            return chain + [divIndex]
        }
        if let (mulIndex, mul) = privateNode(producing: value, opType: "Mul") {
            for (clipped, constant) in [(mul.inputs[0], mul.inputs[1]), (mul.inputs[1], mul.inputs[0])] where isScalar(constant, 1.0 / 6) {
                if let chain = relu6OfXPlus3(clipped, x: x) { return chain + [mulIndex] }
            }
        }
        return nil
    }

    /// `value` = HardSigmoid(x) with α = 1/6 and β = 1/2 (so that x · it is HardSwish).
    func hardSigmoidSixth(_ value: String, x: String) -> [Int]? {
        guard let (index, node) = privateNode(producing: value, opType: "HardSigmoid"), node.inputs.first == x,
              let alpha = try? node.attributes.float("alpha", default: 0.2), let beta = try? node.attributes.float("beta", default: 0.5),
              abs(alpha - 1.0 / 6) <= 1e-6, abs(beta - 0.5) <= 1e-6
        else { return nil }
        return [index]
    }

    /// `value` = 1 + erf(x/√2) (x/√2 as a Div by √2 or a Mul by 1/√2): x and the nodes to remove.
    func onePlusErf(_ value: String) -> (String, [Int])? {
        guard let (addIndex, add) = privateNode(producing: value, opType: "Add"), add.inputs.count == 2 else { return nil }
        for (e, one) in [(add.inputs[0], add.inputs[1]), (add.inputs[1], add.inputs[0])] where isScalar(one, 1) {
            guard let (erfIndex, erf) = privateNode(producing: e, opType: "Erf"),
                  let (scaleIndex, scale) = privateNode(producing: erf.inputs[0], opType: "Div")
                      ?? privateNode(producing: erf.inputs[0], opType: "Mul"),
                  scale.inputs.count == 2 else { continue }
            let chain = [addIndex, erfIndex, scaleIndex]
            if scale.opType == "Div", isScalar(scale.inputs[1], 1.41421356) { return (scale.inputs[0], chain) }
            if scale.opType == "Mul" {
                if isScalar(scale.inputs[1], 0.70710678) { return (scale.inputs[0], chain) }
                if isScalar(scale.inputs[0], 0.70710678) { return (scale.inputs[1], chain) }
            }
        }
        return nil
    }

    /// `value` = x · ½ (either order): the node to remove.
    func halfOf(_ value: String, x: String) -> Int? {
        guard let (index, node) = privateNode(producing: value, opType: "Mul"), node.inputs.count == 2 else { return nil }
        let half = (node.inputs[0] == x && isScalar(node.inputs[1], 0.5)) || (node.inputs[1] == x && isScalar(node.inputs[0], 0.5))
        return half ? index : nil
    }

    /// A Clip's constant bounds (attributes before opset 11, scalar constant inputs after).
    func clipBounds(_ clip: GraphNode) -> (Float, Float)? {
        if graph.opset(for: "") < 11 {
            guard let low = try? clip.attributes.float("min", default: -.infinity),
                  let high = try? clip.attributes.float("max", default: .infinity) else { return nil }
            return (low, high)
        }
        let low = clip.inputs.count > 1 && !clip.inputs[1].isEmpty ? graph.scalar(clip.inputs[1]) : -.infinity
        let high = clip.inputs.count > 2 && !clip.inputs[2].isEmpty ? graph.scalar(clip.inputs[2]) : .infinity
        guard let low, let high else { return nil }
        return (low, high)
    }
}

extension Graph {
    /// Replaces node `index` by a one-input node `opType`(input) with the same outputs and name,
    /// and removes the nodes of the chain it absorbed.
    mutating func replace(_ index: Int, with opType: String, domain: String, input: String, removing chain: [Int]) {
        let old = nodes[index]
        nodes[index] = GraphNode(name: old.name, opType: opType, domain: domain, inputs: [input], outputs: old.outputs,
                                 attributes: NodeAttributes(node: old.name, opType: opType, protos: []))
        for removed in chain { removeNode(removed) }
    }
}
