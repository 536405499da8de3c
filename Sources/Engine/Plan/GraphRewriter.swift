import Foundation

/// Who produces and who reads each value of a graph: what every rewrite rule asks before it
/// changes anything ("is this intermediate read by anyone else?").
struct GraphUses {
    private(set) var producer: [String: Int] = [:]
    private(set) var readers: [String: [Int]] = [:]
    let graphOutputs: Set<String>

    init(_ graph: Graph) {
        graphOutputs = Set(graph.outputs.map(\.name))
        for (index, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty { producer[output] = index }
            for input in node.inputs where !input.isEmpty { readers[input, default: []].append(index) }
        }
    }

    /// The node that produces `value`, when that node is the value's only producer and `value` is
    /// read by exactly one node and is not a graph output: an intermediate a rewrite may absorb.
    func privateProducer(of value: String) -> Int? {
        guard !graphOutputs.contains(value), readers[value]?.count == 1 else { return nil }
        return producer[value]
    }

    func readerCount(_ value: String) -> Int { readers[value]?.count ?? 0 }
}

/// A rewrite rule: looks at node `index` and, when its pattern matches there, rewrites the graph
/// and returns true. Rules only fold constants into a layer or replace a chain of nodes by one
/// equivalent node; they never change a graph output's name or value.
struct RewriteRule: Sendable {
    let name: String
    let apply: @Sendable (_ graph: inout Graph, _ index: Int, _ uses: GraphUses) -> Bool
}

/// Applies rewrite rules to a decoded graph whose constants are already folded, until none matches.
///
/// One walker for every rule: each rule sees the graph at one node, with `GraphUses` up to date,
/// and a rule that fires starts a fresh pass (indices move when nodes go). Nodes a rule wants gone
/// it renames to `GraphRewriter.removedOpType`; they are dropped between passes.
enum GraphRewriter {
    static let removedOpType = "deepserve.removed"
    /// Domain of the operators only rewrites create (SiLU): never read from a model file's nodes.
    static let internalDomain = "ai.deepserve.internal"

    /// The standard rules, in order: fold constants into layers, recognise activations and move them above Reshapes
    /// (so the compiler can fuse them into the layer before them), fold residual Adds into the Conv before them,
    /// then sink Transposes until pairs cancel.
    static let standard: [RewriteRule] = [
        .foldBatchNormalization, .foldPadIntoConv, .foldChannelScaleIntoConv, .foldChannelShiftIntoConv,
        .hardSwish, .siLU, .gelu, .activationAboveReshape, .fuseResidualAdd,
        .mergeTransposes, .sinkTranspose, .splitSharedTranspose,
    ]

    static func rewrite(_ graph: inout Graph, rules: [RewriteRule] = standard) {
        // Folds and fusions remove nodes; Transposes only move down a DAG or merge, and copies of a shared
        // one each move on. The cap bounds a graph where that takes long: its rewrites so far stay valid.
        var budget = graph.nodes.count * 4 + 16
        var changed = true
        while changed && budget > 0 {
            changed = false
            let uses = GraphUses(graph)
            search: for rule in rules {
                for index in graph.nodes.indices where graph.nodes[index].opType != removedOpType {
                    if rule.apply(&graph, index, uses) {
                        changed = true
                        budget -= 1
                        break search
                    }
                }
            }
            graph.nodes.removeAll { $0.opType == removedOpType }
        }
    }
}

extension Graph {
    /// Marks node `index` for removal by the rewriter.
    mutating func removeNode(_ index: Int) {
        nodes[index].opType = GraphRewriter.removedOpType
    }

    /// A float constant with one value per channel along `axis` of a rank-`rank` tensor it is
    /// broadcast against (numpy rules): [C, 1, 1] or [1, C, 1, 1] against NCHW, or a scalar. Returns
    /// the per-channel values (length `channels`), or nil when the constant is anything else.
    func channelVector(_ name: String, channels: Int, axis: Int, rank: Int) -> [Float]? {
        guard let value = constants[name], value.dataType == .float, value.rank <= rank else { return nil }
        if value.count == 1 { return Array(repeating: value.floatArray()[0], count: channels) }
        let offset = rank - value.rank   // value's dim d lines up with the tensor's axis d + offset
        for (d, size) in value.shape.enumerated() where size != 1 && d + offset != axis { return nil }
        guard axis - offset >= 0, value.shape[axis - offset] == channels else { return nil }
        return value.floatArray()
    }

    /// The scalar value of a constant input, when it is one (any float shape holding one value).
    func scalar(_ name: String) -> Float? {
        guard let value = constants[name], value.dataType == .float, value.count == 1 else { return nil }
        return value.floatArray()[0]
    }
}
