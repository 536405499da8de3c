/// If, Loop and Scan: subgraphs compiled at load (`Subgraph`) and run per branch, iteration or
/// scan step in the outer run's workspace, checking its deadline and cancellation every step.
/// Their inputs are the node's own, then the captured outer values (`Subgraph.capturedNames`).

/// If: runs then_branch or else_branch on a boolean condition.
struct If: Operator {
    let thenBranch: Subgraph
    let elseBranch: Subgraph
    let capturedCount: Int

    init(_ context: NodeContext) throws {
        let captured = Subgraph.capturedNames(context.attributes)
        capturedCount = captured.count
        thenBranch = try Subgraph(context, attribute: "then_branch", captured: captured)
        elseBranch = try Subgraph(context, attribute: "else_branch", captured: captured)
        for (name, branch) in [("then_branch", thenBranch), ("else_branch", elseBranch)] where branch.outputCount != context.outputCount {
            throw context.invalid(name, "has \(branch.outputCount) outputs for the node's \(context.outputCount)")
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let condition = try ControlFlow.flag(try inputs.required(0), role: "cond")
        let captured = inputs[(inputs.count - capturedCount)...]
        return try (condition ? thenBranch : elseBranch).run([], captured: captured, workspace)
    }
}

/// Loop (opsets 1–21, tensors only): body(iteration, condition, carried…) → (condition, carried…,
/// scan outputs…) while the trip count and the condition allow; scan outputs are stacked on a new
/// first axis.
struct Loop: Operator {
    let body: Subgraph
    let capturedCount: Int
    let outputCount: Int

    init(_ context: NodeContext) throws {
        let captured = Subgraph.capturedNames(context.attributes)
        capturedCount = captured.count
        outputCount = context.outputCount
        body = try Subgraph(context, attribute: "body", captured: captured)
        let carried = context.inputCount - captured.count - 2
        guard carried >= 0, body.declaredCount == carried + 2, body.outputCount == 1 + context.outputCount,
              context.outputCount >= carried else {
            throw context.invalid("body", "takes \(body.declaredCount) inputs and gives \(body.outputCount) outputs, "
                                  + "which do not fit \(max(carried, 0)) loop-carried values and \(context.outputCount) node outputs")
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let own = inputs.count - capturedCount
        let captured = inputs[own...]
        var tripCount: Int64?
        if let m = inputs.optional(0) {
            try m.expect(.int64, role: "M")
            guard m.count == 1 else { throw KernelError("M must hold one value, has shape \(m.shape)") }
            tripCount = m.int64Element(at: 0)
        }
        var condition = try inputs.optional(1).map { try ControlFlow.flag($0, role: "cond") } ?? true
        var carried = try (2..<own).map { try inputs.required($0) }
        let scanCount = outputCount - carried.count
        var scans = [[Tensor]](repeating: [], count: scanCount)
        var iteration: Int64 = 0
        while condition, tripCount.map({ iteration < $0 }) ?? true {
            try workspace.checkpoint()
            let state = [Tensor(shape: [], int64s: [iteration]), Tensor(shape: [], bools: [condition])] + carried
            let results = try body.run(state, captured: captured, workspace)
            condition = try ControlFlow.flag(results[0], role: "the body's condition output")
            carried = Array(results[1..<(1 + carried.count)])
            for k in 0..<scanCount { scans[k].append(results[1 + carried.count + k]) }
            iteration += 1
        }
        return carried + (try scans.map { try ControlFlow.stack($0, axis: 0, workspace) })
    }
}

/// Scan: body(state…, one slice of each scan input…) → (state…, one slice of each scan output…)
/// along each scan input's axis, forward or reversed. Opset 8's form (a batch axis first, an
/// optional sequence_lens input) runs the same per batch entry.
struct Scan: Operator {
    let body: Subgraph
    let capturedCount: Int
    let outputCount: Int
    let scanInputCount: Int
    let inputAxes: [Int]?, inputDirections: [Int]?, outputAxes: [Int]?, outputDirections: [Int]?
    /// Opset 8: a leading sequence_lens input and a batch axis on everything.
    let batched: Bool

    init(_ context: NodeContext) throws {
        let captured = Subgraph.capturedNames(context.attributes)
        capturedCount = captured.count
        outputCount = context.outputCount
        body = try Subgraph(context, attribute: "body", captured: captured)
        guard let count = try context.attributes.int("num_scan_inputs"), count >= 1 else {
            throw context.invalid("num_scan_inputs", "is required and must be positive")
        }
        scanInputCount = count
        batched = context.opset < 9
        inputAxes = try context.attributes.ints("scan_input_axes")
        inputDirections = batched ? try context.attributes.ints("directions") : try context.attributes.ints("scan_input_directions")
        outputAxes = try context.attributes.ints("scan_output_axes")
        outputDirections = try context.attributes.ints("scan_output_directions")
        let own = context.inputCount - captured.count - (batched ? 1 : 0)
        let states = own - count
        guard states >= 0, body.declaredCount == own, body.outputCount == context.outputCount, context.outputCount >= states else {
            throw context.invalid("body", "takes \(body.declaredCount) inputs and gives \(body.outputCount) outputs, "
                                  + "which do not fit \(own) inputs (\(count) scanned) and \(context.outputCount) outputs")
        }
        for (name, values, length) in [("scan_input_axes", inputAxes, count), ("scan_input_directions", inputDirections, count),
                                       ("scan_output_axes", outputAxes, context.outputCount - states),
                                       ("scan_output_directions", outputDirections, context.outputCount - states)] {
            if let values, values.count != length { throw context.invalid(name, "has \(values.count) values for \(length)") }
        }
        if ((inputDirections ?? []) + (outputDirections ?? [])).contains(where: { $0 != 0 && $0 != 1 }) {
            throw context.invalid("directions", "must be 0 (forward) or 1 (reverse)")
        }
        if batched, inputAxes != nil || outputAxes != nil { throw context.invalid("scan_input_axes", "does not exist before opset 9") }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let own = inputs.count - capturedCount
        let captured = inputs[own...]
        guard batched else {
            return try scan(try (0..<own).map { try inputs.required($0) }, captured: captured, workspace)
        }
        let values = try (1..<own).map { try inputs.required($0) }
        guard let batch = values.first?.shape.first, values.allSatisfy({ $0.rank >= 1 && $0.shape[0] == batch }) else {
            throw KernelError("every input needs the batch axis first: \(values.map(\.shape))")
        }
        let length = values[values.count - scanInputCount].rank >= 2 ? values[values.count - scanInputCount].shape[1] : 0
        if let lengths = inputs.optional(0), lengths.count > 0 {
            guard lengths.int64Array().allSatisfy({ $0 == Int64(length) }) else {
                throw KernelError("sequence_lens shorter than the scanned axis (\(length)) are not supported")
            }
        }
        var perBatch: [[Tensor]] = []
        for b in 0..<batch {
            try workspace.checkpoint()
            let slices = try values.map { try ControlFlow.slice($0, axis: 0, index: b, workspace) }
            perBatch.append(try scan(slices, captured: captured, workspace))
        }
        return try (0..<outputCount).map { k in try ControlFlow.stack(perBatch.map { $0[k] }, axis: 0, workspace) }
    }

    /// One unbatched scan: `values` are the states, then the scan inputs.
    private func scan(_ values: [Tensor], captured: ArraySlice<Tensor?>, _ workspace: Workspace) throws -> [Tensor] {
        let states = values.count - scanInputCount
        let scanned = Array(values[states...])
        let axes = try scanned.indices.map { j in try normalizedAxis(inputAxes?[j] ?? 0, rank: scanned[j].rank) }
        let length = scanned[0].shape[axes[0]]
        for (j, tensor) in scanned.enumerated() where tensor.shape[axes[j]] != length {
            throw KernelError("scan inputs have different lengths along their axes: \(scanned.map(\.shape))")
        }
        var state = Array(values[..<states])
        let scanOutputs = outputCount - states
        var collected = [[Tensor]](repeating: [], count: scanOutputs)
        for t in 0..<length {
            try workspace.checkpoint()
            var step = state
            for (j, tensor) in scanned.enumerated() {
                let index = (inputDirections?[j] ?? 0) == 1 ? length - 1 - t : t
                step.append(try ControlFlow.slice(tensor, axis: axes[j], index: index, workspace))
            }
            let results = try body.run(step, captured: captured, workspace)
            state = Array(results[..<states])
            for k in 0..<scanOutputs { collected[k].append(results[states + k]) }
        }
        let outputs = try (0..<scanOutputs).map { k -> Tensor in
            let slices = (outputDirections?[k] ?? 0) == 1 ? collected[k].reversed() : collected[k]
            let rank = (slices.first?.rank ?? 0) + 1
            return try ControlFlow.stack(slices, axis: try normalizedAxis(outputAxes?[k] ?? 0, rank: rank), workspace)
        }
        return state + outputs
    }
}

/// Tensor helpers the control-flow ops share.
enum ControlFlow {
    /// A boolean condition: one bool value.
    static func flag(_ tensor: Tensor, role: String) throws -> Bool {
        try tensor.expect(.bool, role: role)
        guard tensor.count == 1 else { throw KernelError("\(role) must hold one value, has shape \(tensor.shape)") }
        return tensor.pointer(as: UInt8.self)[0] != 0
    }

    /// Index `index` of `axis`, that axis removed.
    static func slice(_ tensor: Tensor, axis: Int, index: Int, _ workspace: Workspace) throws -> Tensor {
        var shape = tensor.shape
        let length = shape.remove(at: axis)
        let out = try workspace.allocate(tensor.dataType, shape)
        guard out.count > 0 else { return out }
        let size = tensor.dataType.size
        let outer = tensor.shape[..<axis].reduce(1, *), inner = tensor.shape[(axis + 1)...].reduce(1, *) * size
        let source = tensor.storage.bytes, target = out.storage.bytes
        for o in 0..<outer {
            (target + o * inner).copyMemory(from: source + (o * length + index) * inner, byteCount: inner)
        }
        return out
    }

    /// The tensors (one shape and type) stacked along a new axis `axis`; an empty list gives a
    /// float32 [0] (there is no shape to take).
    static func stack(_ tensors: [Tensor], axis: Int, _ workspace: Workspace) throws -> Tensor {
        guard let first = tensors.first else { return try workspace.allocate(.float, [0]) }
        for tensor in tensors where tensor.shape != first.shape || tensor.dataType != first.dataType {
            throw KernelError("scan outputs differ between iterations: \(first) and \(tensor)")
        }
        var shape = first.shape
        shape.insert(tensors.count, at: axis)
        let out = try workspace.allocate(first.dataType, shape)
        guard out.count > 0 else { return out }
        let size = first.dataType.size
        let outer = first.shape[..<axis].reduce(1, *), inner = first.shape[axis...].reduce(1, *) * size
        let target = out.storage.bytes
        for o in 0..<outer {
            for (t, tensor) in tensors.enumerated() {
                (target + (o * tensors.count + t) * inner).copyMemory(from: tensor.storage.bytes + o * inner, byteCount: inner)
            }
        }
        return out
    }
}
