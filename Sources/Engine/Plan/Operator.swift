import Foundation

/// A compiled node: its attributes already parsed and validated, ready to run many times.
///
/// Operators are immutable and `Sendable`: one instance serves every thread that runs the plan.
/// `run` receives the node's inputs (nil where an optional input is omitted) and returns its
/// outputs, allocating them from the caller's workspace.
protocol Operator: Sendable {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor]

    /// Static shape inference: what the outputs will be, from what is known of the inputs (nil where an optional input
    /// is omitted), without running. Throws what `run` would throw on inputs it can already see are wrong. nil means
    /// the operator has no rule, and its outputs are unknown.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]?
}

extension Operator {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? { nil }
}

/// What an operator factory knows about the node it compiles.
struct NodeContext {
    let name: String
    let opType: String
    let domain: String
    /// Opset version of the node's domain that the model imports.
    let opset: Int
    let attributes: NodeAttributes
    let inputCount: Int
    let outputCount: Int
    let modelDirectory: URL?
    /// Inputs whose values are known at load time (initializers, folded constants); nil elsewhere.
    let constantInputs: [Tensor?]
    /// Opset version per domain, for compiling subgraphs.
    var opsets: [String: Int] = [:]

    func invalid(_ attribute: String, _ reason: String) -> EngineError {
        attributes.invalid(attribute, reason)
    }
}

extension Array where Element == Tensor? {
    /// Input `index`, which the operator cannot do without.
    func required(_ index: Int) throws -> Tensor {
        guard index < count, let tensor = self[index] else { throw KernelError("input \(index) is required") }
        return tensor
    }

    func optional(_ index: Int) -> Tensor? { index < count ? self[index] : nil }
}

extension Tensor {
    /// Throws unless the element type is one of `types`.
    func expect(_ types: DataType..., role: String) throws {
        guard types.contains(dataType) else {
            throw KernelError("\(role) must be \(types.map(\.description).joined(separator: " or ")), got \(dataType)")
        }
    }
}
