import Foundation

/// Rules that move Transposes past the element-wise ops after them until two meet and cancel.
///
/// tf2onnx turns an NHWC Keras model into NCHW by wrapping every Conv in Transpose(0,3,1,2) …
/// Transpose(0,2,3,1) and relies on its own optimiser to cancel the pairs across the element-wise ops
/// between convolutions; when that optimiser gives up (it does on MobileNetV3), the file keeps about a
/// hundred Transposes, each a full copy of a feature map. Sinking a Transpose below an op is exact:
/// op(T(x)) = T(op'(x)) where op' is op with its constants and axes permuted the other way.
extension RewriteRule {
    /// T(T(x, P1), P2) → x when the permutations cancel, else T(x, P1∘P2).
    static let mergeTransposes = RewriteRule(name: "merge Transposes") { graph, index, uses in
        let outer = graph.nodes[index]
        guard let second = outer.permutation, let innerIndex = uses.privateProducer(of: outer.inputs[0]),
              let first = graph.nodes[innerIndex].permutation, first.count == second.count else { return false }
        let composed = second.map { first[$0] }
        let source = graph.nodes[innerIndex].inputs[0]
        if composed == Array(0..<composed.count) {
            // Identity: readers of the outer output read the source directly.
            let readers = uses.readers[outer.outputs[0]] ?? []
            if uses.graphOutputs.contains(outer.outputs[0]) || readers.contains(where: { !graph.nodes[$0].attributes.subgraphs.isEmpty }) {
                // A graph output keeps its name, and a subgraph reads its captured values by name.
                graph.nodes[index] = GraphNode(name: outer.name, opType: "Identity", domain: "", inputs: [source],
                                               outputs: outer.outputs, attributes: NodeAttributes(node: outer.name, opType: "Identity", protos: []))
            } else {
                graph.renameReaders(of: outer.outputs[0], to: source)
                graph.removeNode(index)
            }
        } else {
            graph.nodes[index].inputs = [source]
            graph.nodes[index].attributes = outer.attributes.setting("perm", ints: composed)
        }
        graph.removeNode(innerIndex)
        return true
    }

    /// A Transpose read by several nodes becomes one Transpose per reader, so each can sink on its own
    /// path (the input of a residual block is read by the block and by its Add), or merge with a reader that is a
    /// Transpose itself: tf2onnx leaves MobileNet's residual Adds in NHWC, each output read by the next block's
    /// Transpose back to NCHW and by the next Add, and only split do the pairs cancel (22 Transposes per run of
    /// MobileNetV3-small before, 8 % of its time).
    static let splitSharedTranspose = RewriteRule(name: "split a shared Transpose") { graph, index, uses in
        let node = graph.nodes[index]
        guard node.permutation != nil, !uses.graphOutputs.contains(node.outputs[0]),
              let readers = uses.readers[node.outputs[0]], readers.count > 1,
              readers.allSatisfy({ graph.nodes[$0].sinksTransposes || graph.nodes[$0].permutation != nil }) else { return false }
        for (copy, reader) in readers.enumerated() {
            let name = graph.uniqueConstantName("\(node.outputs[0])::copy\(copy)")
            var clone = node
            clone.name = "\(node.name)::copy\(copy)"
            clone.outputs = [name]
            graph.nodes.append(clone)
            graph.nodes[reader].inputs = graph.nodes[reader].inputs.map { $0 == node.outputs[0] ? name : $0 }
        }
        graph.removeNode(index)
        return true
    }

    /// op(T(x, P), …) → T(op(x, …), P) for element-wise ops whose other inputs are constants (permuted
    /// along) or Transposes by the same P, Pad (pads permuted) and ReduceMean/ReduceMax with keepdims.
    static let sinkTranspose = RewriteRule(name: "sink a Transpose") { graph, index, uses in
        let node = graph.nodes[index]
        guard node.sinksTransposes, node.outputs.count == 1, let first = node.inputs.first,
              let transposeIndex = uses.privateProducer(of: first), let perm = graph.nodes[transposeIndex].permutation
        else { return false }
        let rank = perm.count
        var inverse = [Int](repeating: 0, count: rank)
        for (k, axis) in perm.enumerated() { inverse[axis] = k }
        var newInputs = [graph.nodes[transposeIndex].inputs[0]]
        var removed = [transposeIndex]
        var attributes = node.attributes
        switch node.opType {
        case "Pad":
            // pads (and optional constant value) as inputs, opset ≥ 11, no axes input.
            guard graph.opset(for: "") >= 11, node.inputs.count >= 2, node.inputs.count < 4 || node.inputs[3].isEmpty,
                  let pads = graph.constants[node.inputs[1]], pads.dataType == .int64, pads.count == 2 * rank else { return false }
            let values = pads.int64Array()
            // x's axis a is y's axis inverse[a]: its pads are that axis's.
            let begins = (0..<rank).map { values[inverse[$0]] }
            let ends = (0..<rank).map { values[rank + inverse[$0]] }
            let name = graph.uniqueConstantName("\(node.name)::pads")
            graph.constants[name] = Tensor(shape: [2 * rank], int64s: begins + ends)
            newInputs += [name] + node.inputs.dropFirst(2)
        case "ReduceMean", "ReduceMax":
            guard (try? node.attributes.int("keepdims", default: 1)) == 1, node.inputs.count == 1,
                  let axes = try? node.attributes.ints("axes"), !axes.isEmpty else { return false }
            let normalized = axes.map { $0 < 0 ? $0 + rank : $0 }
            guard normalized.allSatisfy({ (0..<rank).contains($0) }) else { return false }
            attributes = attributes.setting("axes", ints: normalized.map { perm[$0] }.sorted())
        default:
            // Element-wise: every other input a constant (permuted here) or a Transpose by the same P.
            for input in node.inputs.dropFirst() {
                if input.isEmpty {
                    newInputs.append(input)
                } else if let constant = graph.constants[input] {
                    guard constant.rank <= rank else { return false }   // it would widen the output's rank
                    if constant.count == 1 || node.opType == "Clip" {
                        newInputs.append(input)   // a scalar needs no permuting (Clip's bounds are scalars)
                        continue
                    }
                    guard let permuted = constant.transposedForBroadcast(rank: rank, permutation: inverse) else { return false }
                    let name = graph.uniqueConstantName("\(input)::sunk")
                    graph.constants[name] = permuted
                    newInputs.append(name)
                } else if let otherIndex = uses.privateProducer(of: input), otherIndex != transposeIndex,
                          graph.nodes[otherIndex].permutation == perm {
                    newInputs.append(graph.nodes[otherIndex].inputs[0])
                    removed.append(otherIndex)
                } else {
                    return false
                }
            }
        }
        // node now works on x; a Transpose after it produces its old output.
        let sunk = graph.uniqueConstantName("\(node.outputs[0])::before_transpose")
        graph.nodes[index].inputs = newInputs
        graph.nodes[index].attributes = attributes
        graph.nodes[index].outputs = [sunk]
        var transpose = graph.nodes[transposeIndex]
        transpose.name = "\(transpose.name)::sunk"
        transpose.inputs = [sunk]
        transpose.outputs = node.outputs
        graph.nodes.append(transpose)
        for r in removed { graph.removeNode(r) }
        return true
    }
}

extension GraphNode {
    /// The permutation of a default-domain Transpose with an explicit `perm`, else nil.
    var permutation: [Int]? {
        guard opType == "Transpose", domain.isEmpty, inputs.count == 1, outputs.count == 1,
              let perm = try? attributes.ints("perm"), Set(perm) == Set(0..<perm.count) else { return nil }
        return perm
    }

    /// Whether a Transpose before this node can move after it (see `sinkTranspose`).
    var sinksTransposes: Bool {
        guard domain.isEmpty else { return opType == "SiLU" && domain == GraphRewriter.internalDomain }
        return Self.elementwise.contains(opType) || ["Pad", "ReduceMean", "ReduceMax"].contains(opType)
    }

    private static let elementwise: Set<String> = [
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "Clip", "Elu", "Neg", "Abs", "Exp",
        "Add", "Sub", "Mul", "Div", "Max", "Min",
    ]
}

extension Graph {
    /// Points every reader of `old` at `new` (graph outputs excepted: callers check those).
    mutating func renameReaders(of old: String, to new: String) {
        for i in nodes.indices { nodes[i].inputs = nodes[i].inputs.map { $0 == old ? new : $0 } }
    }
}

extension Tensor {
    /// This constant broadcast to `rank` (leading 1s), then transposed by `permutation`: what it must
    /// become to be broadcast against T⁻¹(y) instead of y. Float constants only (nil otherwise).
    func transposedForBroadcast(rank: Int, permutation: [Int]) -> Tensor? {
        guard dataType == .float, self.rank <= rank else { return nil }
        let full = Array(repeating: 1, count: rank - self.rank) + shape
        let newShape = permutation.map { full[$0] }
        let source = floatArray(), strides = contiguousStrides(full)
        var values = [Float](repeating: 0, count: source.count)
        let newStrides = contiguousStrides(newShape)
        for target in 0..<values.count {
            var rest = target, offset = 0
            for axis in 0..<rank {
                let coordinate = rest / newStrides[axis]
                rest %= newStrides[axis]
                offset += coordinate * strides[permutation[axis]]
            }
            values[target] = source[offset]
        }
        return Tensor(shape: newShape, floats: values)
    }
}
