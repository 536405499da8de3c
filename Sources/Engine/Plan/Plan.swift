import Foundation

/// A compiled ONNX model: load once, run many times, from many threads at once.
///
/// Loading decodes the model, compiles each node into an `Operator`, folds constants, fuses
/// activations into the ops that feed them and plans when each intermediate buffer can be
/// reused. A `Plan` is immutable: runs share its weights without locks, and each run keeps its
/// intermediates in the `Workspace` it is given.
public final class Plan: Sendable {
    /// Inputs a run must provide (initializers excluded).
    public let inputs: [ValueInfo]
    /// The graph's outputs as declared, with the dimensions static shape inference proves filled in (`refine`).
    public let outputs: [ValueInfo]
    /// Opset version per domain ("" is the default ONNX domain).
    public let opsets: [String: Int]
    public let producer: String

    let steps: [Step]
    /// Value slots as a run starts: constants filled in, everything else nil.
    let initialSlots: [Tensor?]
    let inputSlots: [Int]
    let outputSlots: [Int]

    struct Step: Sendable {
        let name: String
        let opType: String
        let op: any Operator
        let inputs: [Int?]
        /// nil for an output the model does not use.
        let outputs: [Int?]
        /// Slots whose last reader is this step: their memory goes back to the workspace after it.
        let releases: [Int]
    }

    init(inputs: [ValueInfo], outputs: [ValueInfo], opsets: [String: Int], producer: String,
         steps: [Step], initialSlots: [Tensor?], inputSlots: [Int], outputSlots: [Int]) {
        self.inputs = inputs
        let facts = try? Self.propagateFacts(steps: steps, initialSlots: initialSlots, inputs: inputs, inputSlots: inputSlots,
                                             inputShapes: [:], nil)
        self.outputs = Self.refine(outputs, slots: outputSlots, facts: facts)
        self.opsets = opsets
        self.producer = producer
        self.steps = steps
        self.initialSlots = initialSlots
        self.inputSlots = inputSlots
        self.outputSlots = outputSlots
    }

    /// Loads and compiles the model at `url`; external data is read from files beside it.
    public convenience init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EngineError.io(path: url.path, reason: error.localizedDescription)
        }
        try self.init(modelData: data, modelDirectory: url.deletingLastPathComponent())
    }

    /// Compiles a serialized ONNX model held in memory.
    public convenience init(modelData: Data, modelDirectory: URL? = nil) throws {
        let graph = try Graph(modelData: modelData, modelDirectory: modelDirectory)
        try self.init(compiling: graph)
    }

    /// The number of operator steps a run executes (after folding and fusion).
    public var stepCount: Int { steps.count }
    /// Op types of the steps a run executes, in order (fused steps read e.g. "Conv+Relu").
    public var stepOpTypes: [String] { steps.map(\.opType) }

    /// The op that computes graph output `name` last (of a fused step, its final op: "Softmax" for "Gemm+Softmax"),
    /// or nil for an output that is an input or a constant. Lets a server see that a graph already ends in Softmax.
    public func finalOperator(ofOutput name: String) -> String? {
        guard let index = outputs.firstIndex(where: { $0.name == name }), index < outputSlots.count else { return nil }
        let slot = outputSlots[index]
        guard let step = steps.last(where: { $0.outputs.contains(slot) }) else { return nil }
        return step.opType.split(separator: "+").last.map(String.init)
    }

    /// Runs the model. `inputs` maps every graph input's name to a tensor of its declared type and shape.
    ///
    /// - Parameter workspace: scratch memory to reuse across runs; give each thread its own.
    public func run(_ inputs: [String: Tensor], workspace: Workspace = Workspace()) throws -> [String: Tensor] {
        try execute(inputs, workspace, limits: .none, observer: nil)
    }

    /// Runs the model under `limits`: past the deadline it throws `EngineError.deadlineExceeded`,
    /// once cancelled `EngineError.cancelled`, and an allocation that would take the run past
    /// `maxBytes` throws `EngineError.resourceLimit` instead of taking the memory. Each names the
    /// node it stopped at.
    public func run(_ inputs: [String: Tensor], workspace: Workspace = Workspace(), limits: RunLimits) throws -> [String: Tensor] {
        try execute(inputs, workspace, limits: limits, observer: nil)
    }

    /// What a traced run reports after each step.
    public struct StepRecord: Sendable {
        public let name: String
        public let opType: String
        public let inputShapes: [[Int]?]
        public let outputShapes: [[Int]]
        public let seconds: Double
    }

    /// Runs the model and reports every step with its shapes and time (for inspect and profiling).
    public func trace(_ inputs: [String: Tensor], workspace: Workspace = Workspace(),
                      _ observer: (StepRecord) -> Void) throws -> [String: Tensor] {
        try withoutActuallyEscaping(observer) { observer in
            try execute(inputs, workspace, limits: .none) { step, arguments, results, seconds in
                observer(StepRecord(name: step.name, opType: step.opType, inputShapes: arguments.map { $0?.shape },
                                    outputShapes: results.map(\.shape), seconds: seconds))
            }
        }
    }

    private func execute(_ inputs: [String: Tensor], _ workspace: Workspace, limits: RunLimits,
                         observer: ((Step, [Tensor?], [Tensor], Double) -> Void)?) throws -> [String: Tensor] {
        var slots = initialSlots
        try bind(inputs, into: &slots)
        workspace.begin(limits)
        defer { workspace.end() }
        for step in steps {
            try perform(step, &slots, workspace, observer)
            // Only now are the step's argument references gone, so a dying value can be unique.
            for slot in step.releases {
                guard var tensor = slots[slot] else { continue }
                slots[slot] = nil
                workspace.recycle(&tensor)
            }
        }
        var result: [String: Tensor] = [:]
        for (info, slot) in zip(outputs, outputSlots) {
            guard let value = slots[slot] else {
                throw EngineError.invalidModel(reason: "output '\(info.name)' was not produced")
            }
            result[info.name] = value
        }
        return result
    }

    private func perform(_ step: Step, _ slots: inout [Tensor?], _ workspace: Workspace,
                         _ observer: ((Step, [Tensor?], [Tensor], Double) -> Void)?) throws {
        let arguments = step.inputs.map { $0.flatMap { slots[$0] } }
        let start = observer == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        let results: [Tensor]
        do {
            try workspace.checkpoint()
            results = try step.op.run(arguments, workspace)
        } catch let error as KernelError {
            throw EngineError.invalidInput(node: step.name, opType: step.opType, reason: error.reason)
        } catch let interruption as RunInterruption {
            throw interruption.engineError(node: step.name, opType: step.opType)
        }
        observer?(step, arguments, results, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        for (slot, value) in zip(step.outputs, results) {
            if let slot { slots[slot] = value }
        }
    }

    /// Runs as the subgraph of a control-flow node: inputs by position (declared, then captured
    /// outer values), outputs in declared order, within the outer run's workspace and limits.
    func runNested(_ inputs: [Tensor], _ workspace: Workspace) throws -> [Tensor] {
        guard inputs.count == inputSlots.count else {
            throw KernelError("the subgraph takes \(inputSlots.count) inputs, got \(inputs.count)")
        }
        var slots = initialSlots
        for (slot, tensor) in zip(inputSlots, inputs) { slots[slot] = tensor }
        for step in steps {
            try perform(step, &slots, workspace, nil)
            for slot in step.releases {
                guard var tensor = slots[slot] else { continue }
                slots[slot] = nil
                workspace.recycle(&tensor)
            }
        }
        return try zip(outputs, outputSlots).map { info, slot in
            guard let value = slots[slot] else { throw KernelError("the subgraph's output '\(info.name)' was not produced") }
            return value
        }
    }

    /// Zero-filled inputs of the declared shapes, symbolic dimensions set to `dynamicSize`.
    public func placeholderInputs(dynamicSize: Int = 1) -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: inputs.map { info in
            let shape = (info.shape ?? []).map { $0.fixedValue ?? dynamicSize }
            return (info.name, Tensor.zeros(info.dataType ?? .float, shape: shape))
        })
    }

    /// Output shapes for given input shapes, found by running the plan on zeros (every operator
    /// checks its inputs as it runs, so this is also the load-time validation of a static model).
    public func inferShapes(dynamicSize: Int = 1) throws -> [String: [Int]] {
        try run(placeholderInputs(dynamicSize: dynamicSize)).mapValues(\.shape)
    }

    private func bind(_ given: [String: Tensor], into slots: inout [Tensor?]) throws {
        for name in given.keys where !inputs.contains(where: { $0.name == name }) {
            throw EngineError.unknownInput(name: name, known: inputs.map(\.name))
        }
        for (info, slot) in zip(inputs, inputSlots) {
            guard let tensor = given[info.name] else { throw EngineError.missingInput(name: info.name) }
            if let expected = info.dataType, expected != tensor.dataType {
                throw EngineError.inputTypeMismatch(name: info.name, expected: expected, got: tensor.dataType)
            }
            guard (try? checkedElementCount(tensor.shape)) != nil, info.accepts(tensor.shape) else {
                let expected = "[" + (info.shape ?? []).map(\.description).joined(separator: ", ") + "]"
                throw EngineError.inputShapeMismatch(name: info.name, expected: expected, got: tensor.shape)
            }
            slots[slot] = tensor
        }
    }
}

extension RunInterruption {
    func engineError(node: String, opType: String) -> EngineError {
        switch self {
        case .deadlineExceeded: .deadlineExceeded(node: node)
        case .cancelled: .cancelled(node: node)
        case .resourceLimit(let reason): .resourceLimit(node: node, reason: reason)
        case .divisionByZero: .divisionByZero(node: node, opType: opType)
        }
    }
}
