/// Static shape inference: every step's outputs from what is known of the graph's inputs, without running the model.
///
/// Each step asks its operator's `outputFacts` rule. Where a step's inputs are all known values (shape arithmetic on
/// fixed dimensions: `Shape → Gather → Concat → Reshape`) and its rule proves the outputs small, the step is run on
/// them instead, so the values flow on to the Reshape or Expand that reads them.
extension Plan {
    /// What static inference found for one step.
    public struct StepFacts: Sendable {
        public let name: String
        public let opType: String
        public let inputs: [TensorFact?]
        public let outputs: [TensorFact]
        /// False when the operator has no rule: its outputs are unknown.
        public let hasRule: Bool
    }

    /// Largest tensor (in elements) whose value inference computes and carries: shape arithmetic, not data.
    static let maximumInferredValueCount = 4096

    /// Facts of the graph's outputs when the inputs have their declared shapes, `inputShapes` overriding some.
    /// Throws `EngineError.invalidInput` naming the node whose rule proves the model cannot run at those shapes.
    public func inferFacts(inputShapes: [String: [Dimension]] = [:],
                           _ observer: ((StepFacts) -> Void)? = nil) throws -> [String: TensorFact] {
        for name in inputShapes.keys where !inputs.contains(where: { $0.name == name }) {
            throw EngineError.unknownInput(name: name, known: inputs.map(\.name))
        }
        let slots = try Self.propagateFacts(steps: steps, initialSlots: initialSlots, inputs: inputs, inputSlots: inputSlots,
                                            inputShapes: inputShapes, observer)
        var result: [String: TensorFact] = [:]
        for (info, slot) in zip(outputs, outputSlots) {
            result[info.name] = slots[slot] ?? .unknown
        }
        return result
    }

    /// Inference through a subgraph's plan, its inputs' facts by position (as `runNested` takes its tensors): the
    /// facts of its outputs in declared order.
    func nestedFacts(_ inputFacts: [TensorFact?]) throws -> [TensorFact] {
        var slots: [TensorFact?] = initialSlots.map { $0.map(TensorFact.init(known:)) }
        for (slot, fact) in zip(inputSlots, inputFacts) { slots[slot] = try (fact ?? .unknown).checkedSize() }
        try Self.walk(steps, &slots, nil)
        return outputSlots.map { slots[$0] ?? .unknown }
    }

    /// The facts of every value slot after the steps, from the inputs' declared types and shapes.
    static func propagateFacts(steps: [Step], initialSlots: [Tensor?], inputs: [ValueInfo], inputSlots: [Int],
                               inputShapes: [String: [Dimension]], _ observer: ((StepFacts) -> Void)?) throws -> [TensorFact?] {
        var slots: [TensorFact?] = initialSlots.map { $0.map(TensorFact.init(known:)) }
        for (info, slot) in zip(inputs, inputSlots) {
            let fact = TensorFact(info.dataType, inputShapes[info.name] ?? info.shape)
            do {
                slots[slot] = try fact.checkedSize()
            } catch let error as KernelError {
                throw EngineError.invalidModel(reason: "input '\(info.name)' \(error.reason)")
            }
        }
        try walk(steps, &slots, observer)
        return slots
    }

    /// Each step's facts from those of its inputs, in order, into the slots of its outputs.
    private static func walk(_ steps: [Step], _ slots: inout [TensorFact?], _ observer: ((StepFacts) -> Void)?) throws {
        for step in steps {
            let arguments = step.inputs.map { $0.flatMap { slots[$0] } }
            let (outputs, hasRule) = try facts(of: step, arguments)
            observer?(StepFacts(name: step.name, opType: step.opType, inputs: arguments, outputs: outputs, hasRule: hasRule))
            for (index, slot) in step.outputs.enumerated() {
                if let slot { slots[slot] = index < outputs.count ? outputs[index] : .unknown }
            }
        }
    }

    private static func facts(of step: Step, _ arguments: [TensorFact?]) throws -> (outputs: [TensorFact], hasRule: Bool) {
        do {
            guard let stated = try step.op.outputFacts(arguments)?.map({ try $0.checkedSize() }) else {
                return (Array(repeating: .unknown, count: step.outputs.count), false)
            }
            let small = stated.allSatisfy { ($0.shape?.fixedCount ?? .max) <= maximumInferredValueCount }
            let allKnown = arguments.allSatisfy { $0 == nil || $0?.value != nil }
            guard small, allKnown, !stated.isEmpty else { return (stated, true) }
            // Every input is a known value and the outputs are small: compute them.
            let values = try step.op.run(arguments.map { $0?.value }, Workspace(maximumPooledBytes: 0))
            return (values.map(TensorFact.init(known:)), true)
        } catch let error as KernelError {
            throw EngineError.invalidInput(node: step.name, opType: step.opType, reason: error.reason)
        } catch let interruption as RunInterruption {
            throw interruption.engineError(node: step.name, opType: step.opType)
        }
    }

    /// The graph's outputs as declared, each made as precise as static inference proves at the declared input shapes:
    /// a dimension inference fixes replaces the declared one, and a declaration without a shape takes the inferred
    /// shape. An export that declares `[unk__12, unk__13]` for its logits gets `[unk__12, 10]`. Where inference fails
    /// (the run at load reports that), the declarations stay as they are.
    static func refine(_ outputs: [ValueInfo], slots outputSlots: [Int], facts: [TensorFact?]?) -> [ValueInfo] {
        zip(outputs, outputSlots).map { info, slot in
            guard let fact = facts?[slot] ?? nil, let inferred = fact.shape else { return info }
            let shape: [Dimension]
            if let declared = info.shape {
                guard declared.count == inferred.count else { return info }
                shape = zip(declared, inferred).map { declared, inferred in
                    if inferred.fixedValue != nil { return inferred }
                    if case .unknown = declared { return inferred }
                    return declared
                }
            } else {
                shape = inferred
            }
            return ValueInfo(name: info.name, dataType: info.dataType, onnxTypeName: info.onnxTypeName, shape: shape)
        }
    }
}

extension TensorFact {
    /// Largest dimension a fact may state: the run-time helpers the rules share assume sizes a real tensor can have.
    static let maximumDimension = 1 << 40

    /// This fact, or an error when a fixed dimension is negative or beyond `maximumDimension`, or the fixed ones
    /// multiply past what an Int counts (a declared `[2^40, 2^40]`: no run could allocate it).
    func checkedSize() throws -> TensorFact {
        guard let shape else { return self }
        var count = 1
        for dim in shape {
            guard let size = dim.fixedValue else { continue }
            guard size >= 0, size <= Self.maximumDimension else { throw KernelError("has a dimension of \(size), out of range") }
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw KernelError("shape \(description) holds more elements than can be counted") }
            count = product
        }
        return self
    }
}
