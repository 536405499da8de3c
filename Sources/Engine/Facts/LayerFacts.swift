/// Shape rules of the layers: convolution, pooling, matrix products and recurrent cells.

extension SpatialWindow {
    /// Output sizes for spatial input sizes that may be named or unknown. Each axis's size depends on that axis alone,
    /// so the fixed axes are computed exactly (with `resolve`, which also checks them) and the others come out unknown.
    func outputDims(input: [Dimension], kernel weightKernel: [Int]?) throws -> [Dimension] {
        guard kernel != nil || weightKernel != nil else { return input.map { _ in .unknown } }
        // A stand-in far larger than any window (kernel and dilation are at most 2^24 each), so it never fails.
        let standIn = 1 << 50
        let resolved = try resolve(input: input.map { $0.fixedValue ?? standIn }, kernel: weightKernel)
        return zip(input, resolved.output).map { dim, output in dim.fixedValue == nil ? .unknown : .fixed(output) }
    }
}

extension Conv {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0), w = try inputs.required(1)
        for fact in [x, w] where fact.dataType != nil && fact.dataType != .float {
            throw KernelError("X and W must be float, got \(fact.dataType!)")
        }
        return [try convolutionFact(x, w, window: window, group: group, dataType: .float)]
    }
}

extension ConvInteger {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [try convolutionFact(try inputs.required(0), try inputs.required(1), window: window, group: group, dataType: .int32)]
    }
}

extension QLinearConv {
    /// The convolution's shape, in y_zero_point's type.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let type = try inputs.required(7).dataType
        return [try convolutionFact(try inputs.required(0), try inputs.required(3), window: window, group: group, dataType: type)]
    }
}

/// A convolution's output: [N, Cout] and the size the window gives each spatial axis; the channels checked against
/// the filters' when both are fixed.
func convolutionFact(_ x: TensorFact, _ w: TensorFact, window: SpatialWindow, group: Int, dataType: DataType?) throws -> TensorFact {
    guard let xShape = x.shape else { return TensorFact(dataType, rank: w.rank) }
    guard xShape.count >= 3 else { throw KernelError("X \(x) must be N × C × spatial…") }
    if let rank = w.rank, rank != xShape.count {
        throw KernelError("X \(x) and W \(w) must both be N × C × spatial… of the same rank")
    }
    let weightShape = w.fixedShape
    if let weightShape, let channels = xShape[1].fixedValue, channels != weightShape[1] * group {
        throw KernelError("X has \(channels) channels but W \(weightShape) with group \(group) expects \(weightShape[1] * group)")
    }
    let outChannels: Dimension = weightShape.map { .fixed($0[0]) } ?? .unknown
    let spatial = try window.outputDims(input: Array(xShape.dropFirst(2)), kernel: weightShape.map { Array($0.dropFirst(2)) })
    return TensorFact(dataType, [xShape[0], outChannels] + spatial)
}

extension Pool {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        if let type = x.dataType, type != .float { throw KernelError("X must be float, got \(type)") }
        guard let shape = x.shape else { return wantsIndices ? [x.with(.float), x.with(.int64)] : [x.with(.float)] }
        guard shape.count >= 3 else { throw KernelError("X must be N × C × spatial…, got \(x)") }
        let outShape = Array(shape.prefix(2)) + (try window.outputDims(input: Array(shape.dropFirst(2)), kernel: nil))
        let out = TensorFact(.float, outShape)
        return wantsIndices ? [out, out.with(.int64)] : [out]
    }
}

extension GlobalPool {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [x.with(.float)] }
        guard shape.count >= 2 else { throw KernelError("X must be N × C × spatial…, got \(x)") }
        return [TensorFact(.float, Array(shape.prefix(2)) + Array(repeating: .fixed(1), count: shape.count - 2))]
    }
}

extension Gemm {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let a = try inputs.required(0), b = try inputs.required(1)
        for fact in [a, b] {
            if let rank = fact.rank, rank != 2 { throw KernelError("A and B must be matrices, got \(a) and \(b)") }
        }
        guard let aShape = a.shape, let bShape = b.shape else {
            return [TensorFact(.float, [a.shape.map { transA ? $0[1] : $0[0] } ?? .unknown,
                                        b.shape.map { transB ? $0[0] : $0[1] } ?? .unknown])]
        }
        let (m, k) = transA ? (aShape[1], aShape[0]) : (aShape[0], aShape[1])
        let (kb, n) = transB ? (bShape[1], bShape[0]) : (bShape[0], bShape[1])
        _ = try k.unified(with: kb, "inner dimensions of A \(a) and B \(b) (transA \(transA), transB \(transB))")
        return [TensorFact(.float, [m, n])]
    }
}

extension MatMul {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [TensorFact(.float, try matrixProductShape(try inputs.required(0), try inputs.required(1)))]
    }
}

/// numpy's matmul on facts (`MatMulShape` for shapes that may be named or unknown): vectors promoted and the added
/// axis dropped again, batch dimensions broadcast.
func matrixProductShape(_ a: TensorFact, _ b: TensorFact) throws -> [Dimension]? {
    guard let aGiven = a.shape, let bGiven = b.shape else { return nil }
    guard !aGiven.isEmpty, !bGiven.isEmpty else { throw KernelError("operands must have rank ≥ 1, got \(a) and \(b)") }
    let aShape = aGiven.count == 1 ? [.fixed(1), aGiven[0]] : aGiven
    let bShape = bGiven.count == 1 ? [bGiven[0], .fixed(1)] : bGiven
    _ = try aShape[aShape.count - 1].unified(with: bShape[bShape.count - 2], "inner dimensions of \(a) × \(b)")
    var result = try FactBroadcast.shape([Array(aShape.dropLast(2)), Array(bShape.dropLast(2))])
        + [aShape[aShape.count - 2], bShape[bShape.count - 1]]
    if aGiven.count == 1 { result.remove(at: result.count - 2) }
    if bGiven.count == 1 { result.removeLast() }
    return result
}

extension Recurrent {
    /// Y [T, dirs, B, h] and Y_h (and an LSTM's Y_c) [dirs, B, h]; batch-major layout puts B first.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        if let rank = x.rank, rank != 3 { throw KernelError("X must be 3-d, got \(x)") }
        let dims = x.shape ?? [.unknown, .unknown, .unknown]
        let (steps, batch) = batchMajor ? (dims[1], dims[0]) : (dims[0], dims[1])
        let (h, directionCount) = (Dimension.fixed(hiddenSize), Dimension.fixed(directions.count))
        let y = TensorFact(.float, batchMajor ? [batch, steps, directionCount, h] : [steps, directionCount, batch, h])
        let state = TensorFact(.float, batchMajor ? [batch, directionCount, h] : [directionCount, batch, h])
        if case .lstm = cell { return [y, state, state] }
        return [y, state]
    }
}

extension ConvTranspose {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0), w = try inputs.required(1)
        guard let xShape = x.shape, let weightShape = w.fixedShape else { return [TensorFact(.float, rank: x.rank ?? w.rank)] }
        guard xShape.count >= 3, xShape.count == weightShape.count else {
            throw KernelError("X \(x) and W \(weightShape) must both be N × C × spatial… of the same rank")
        }
        if let channels = xShape[1].fixedValue, channels != weightShape[0] || channels % group != 0 {
            throw KernelError("X has \(channels) channels but W is \(weightShape) with group \(group)")
        }
        // Each axis's size depends on that axis alone: a stand-in (well inside `geometry`'s bounds) for the unknown ones.
        let spatial = Array(xShape.dropFirst(2))
        let output = try geometry(spatial: spatial.map { $0.fixedValue ?? 1 << 20 }, weightKernel: Array(weightShape.dropFirst(2))).output
        let dims = zip(spatial, output).map { dim, size in dim.fixedValue == nil ? Dimension.unknown : .fixed(size) }
        return [TensorFact(.float, [xShape[0], .fixed(weightShape[1] * group)] + dims)]
    }
}

extension Einsum {
    /// Exact when every operand's shape is fixed (the equation's own resolution); otherwise unknown.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let operands = try (0..<equation.terms.count).map { try inputs.required($0) }
        let type = operands.lazy.compactMap(\.dataType).first
        guard let shapes = operands.map(\.fixedShape) as? [[Int]] else { return [TensorFact(type, nil)] }
        return [TensorFact(type, try equation.resolve(shapes).outputSizes.map { .fixed($0) })]
    }
}
