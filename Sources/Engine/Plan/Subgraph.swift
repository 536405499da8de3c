import ONNXProto

/// A control-flow node's subgraph (If's branches, Loop's and Scan's body), compiled once at load
/// into a `Plan` of its own by the same compiler, and run inside the outer run's workspace.
///
/// A subgraph may read values of the graphs around it by name. The compiler appends those names
/// to the control-flow node's inputs (`Graph.captureOuterValues`), so the outer plan orders and
/// keeps them like any input; the subgraph's plan takes them as extra inputs after its own.
struct Subgraph: Sendable {
    let plan: Plan
    /// Inputs the subgraph declares (before the captured ones).
    let declaredCount: Int
    /// For each outer value the subgraph reads, its index among the node's captured inputs.
    private let capturedIndices: [Int]

    /// Compiles graph attribute `attribute`; `captured` are the node's captured names (all its subgraphs').
    init(_ context: NodeContext, attribute: String, captured: [String]) throws {
        guard let proto = try context.attributes.graph(attribute) else { throw context.invalid(attribute, "is required") }
        let free = Self.outerValues(of: proto)
        let graph = try Graph(subgraph: proto, captured: free, opsets: context.opsets, modelDirectory: context.modelDirectory)
        plan = try Plan(compiling: graph)
        declaredCount = graph.inputs.count - free.count
        let position = Dictionary(captured.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        capturedIndices = free.map { position[$0] ?? 0 }   // every free name is among the node's: same function
    }

    var outputCount: Int { plan.outputs.count }

    /// Static shape inference through the subgraph, from the facts of the node's captured values (If's branches,
    /// which declare no inputs of their own).
    func facts(captured: [TensorFact?]) throws -> [TensorFact] {
        guard declaredCount == 0 else { throw KernelError("the subgraph declares \(declaredCount) inputs") }
        return try plan.nestedFacts(capturedIndices.map { captured.indices.contains($0) ? captured[$0] : nil })
    }

    /// Runs the subgraph on its declared inputs and the node's captured values.
    func run(_ declared: [Tensor], captured: ArraySlice<Tensor?>, _ workspace: Workspace) throws -> [Tensor] {
        guard declared.count == declaredCount else {
            throw KernelError("the subgraph declares \(declaredCount) inputs but is given \(declared.count)")
        }
        var inputs = declared
        for index in capturedIndices {
            guard let value = captured[captured.startIndex + index] else { throw KernelError("an outer value the subgraph reads is missing") }
            inputs.append(value)
        }
        return try plan.runNested(inputs, workspace)
    }

    /// Names a graph reads but neither declares, initialises nor produces (nested subgraphs
    /// included), in first-use order: the values it takes from the graphs around it.
    static func outerValues(of graph: Onnx_GraphProto) -> [String] {
        var defined = Set(graph.input.map(\.name)).union(graph.initializer.map(\.name))
        for node in graph.node { defined.formUnion(node.output) }
        var seen = Set<String>(), result: [String] = []
        func use(_ name: String) {
            if !name.isEmpty, !defined.contains(name), seen.insert(name).inserted { result.append(name) }
        }
        for node in graph.node {
            node.input.forEach(use)
            for attribute in node.attribute {
                for nested in (attribute.hasG ? [attribute.g] : []) + attribute.graphs { outerValues(of: nested).forEach(use) }
            }
        }
        graph.output.map(\.name).forEach(use)
        return result
    }

    /// The outer values any of a node's subgraphs read, in order: what the compiler appends to its inputs.
    static func capturedNames(_ attributes: NodeAttributes) -> [String] {
        var seen = Set<String>(), result: [String] = []
        for graph in attributes.subgraphs {
            for name in outerValues(of: graph) where seen.insert(name).inserted { result.append(name) }
        }
        return result
    }
}

extension Graph {
    /// Appends to every control-flow node's inputs the outer values its subgraphs read.
    mutating func captureOuterValues() {
        for index in nodes.indices where !nodes[index].attributes.subgraphs.isEmpty {
            nodes[index].inputs += Subgraph.capturedNames(nodes[index].attributes)
        }
    }
}
