/// Shape rules through control flow: If through its branches' plans. Loop and Scan have none yet (their outputs'
/// sizes depend on the trip count and on what each iteration does to the carried values).

extension If {
    /// The branch the condition takes when it is known; otherwise what both branches agree on. A branch whose
    /// inference fails is left out (exporters guard shapes with If, and the branch not taken may not fit).
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let condition = try inputs.required(0)
        let captured = Array(inputs[(inputs.count - capturedCount)...])
        if let value = condition.value, let flag = try? ControlFlow.flag(value, role: "cond") {
            return try? (flag ? thenBranch : elseBranch).facts(captured: captured)
        }
        let branches = [thenBranch, elseBranch].compactMap { try? $0.facts(captured: captured) }
        guard let first = branches.first else { return nil }
        return branches.dropFirst().reduce(first) { merged, other in zip(merged, other).map { $0.common(with: $1) } }
    }
}

extension TensorFact {
    /// What two possible values have in common: the type and each dimension where they agree.
    func common(with other: TensorFact) -> TensorFact {
        let type = dataType == other.dataType ? dataType : nil
        guard let shape, let otherShape = other.shape, shape.count == otherShape.count else { return TensorFact(type, nil) }
        return TensorFact(type, zip(shape, otherShape).map { $0 == $1 ? $0 : .unknown })
    }
}
