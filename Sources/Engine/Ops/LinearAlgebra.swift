import CKernels

/// Gemm: Y = alpha · op(A) · op(B) + beta · C, optionally followed by a fused activation.
struct Gemm: ActivationFusing {
    let transA: Bool
    let transB: Bool
    let alpha: Float
    let beta: Float
    var activation: Activation?
    /// B packed at load when it is a constant (the layer's weights).
    let packedB: PackedMatrix?

    init(_ context: NodeContext) throws {
        let attributes = context.attributes
        transA = try attributes.flag("transA", default: false)
        transB = try attributes.flag("transB", default: false)
        alpha = try attributes.float("alpha", default: 1)
        beta = try attributes.float("beta", default: 1)
        if context.constantInputs.count > 1, let b = context.constantInputs[1], b.dataType == .float, b.rank == 2 {
            let (k, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
            packedB = PackedMatrix(right: b.pointer(as: Float.self), k: k, n: n, stride: b.shape[1], transposed: transB)
        } else {
            packedB = nil
        }
    }

    func fused(with activation: Activation) -> any Operator {
        var copy = self
        copy.activation = activation
        return copy
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let a = try inputs.required(0), b = try inputs.required(1)
        try a.expect(.float, role: "A")
        try b.expect(.float, role: "B")
        guard a.rank == 2, b.rank == 2 else { throw KernelError("A and B must be matrices, got \(a.shape) and \(b.shape)") }
        let (m, k) = transA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
        let (kb, n) = transB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
        guard k == kb else { throw KernelError("inner dimensions differ: A is \(a.shape), B is \(b.shape) (transA \(transA), transB \(transB))") }
        let out = try workspace.allocate(.float, [m, n])
        var rowBias: UnsafeMutablePointer<Float>? = nil
        var colBias: UnsafeMutablePointer<Float>? = nil
        var scaledBias: Tensor?
        var gemmBeta: Float = 0
        if let c = inputs.optional(2), beta != 0 {
            try c.expect(.float, role: "C")
            let cShape = try Broadcast.shape([c.shape, [m, n]])
            guard cShape == [m, n] else { throw KernelError("C of shape \(c.shape) does not broadcast to \([m, n])") }
            // Bias vectors ride in the kernel's epilogue; anything else is copied into Y first.
            let isRow = c.count == n && (c.rank == 1 || (c.rank == 2 && c.shape[0] == 1))
            let isColumn = c.count == m && c.rank == 2 && c.shape[1] == 1
            if isRow || isColumn {
                let bias = beta == 1 ? c : try scaled(c, by: beta, workspace)
                scaledBias = bias
                if isRow { colBias = bias.floats.baseAddress } else { rowBias = bias.floats.baseAddress }
                if isRow && isColumn { rowBias = nil }
            } else {
                let y = out.floats.baseAddress!, cp = c.pointer(as: Float.self)
                Broadcast.forEachRun(outShape: [m, n], inputShapes: [c.shape]) { o, offsets, strides, count in
                    for i in 0..<count { y[o + i] = beta * cp[offsets[0] + i * strides[0]] }
                }
                gemmBeta = 1
            }
        }
        let act = activation?.kernelDescriptor ?? Activation.none
        if let packedB, packedB.rows == k, packedB.columns == n {
            packedB.multiply(left: a.pointer(as: Float.self), m: m, lda: a.shape[1], transposed: transA, alpha: alpha,
                             into: out.pointer(as: Float.self), ldc: n, beta: gemmBeta, rowBias: rowBias, colBias: colBias,
                             activation: act)
        } else {
            ds_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, a.pointer(as: Float.self), a.shape[1],
                     b.pointer(as: Float.self), b.shape[1], gemmBeta, out.pointer(as: Float.self), n, rowBias, colBias, act)
        }
        withExtendedLifetime(scaledBias) {}
        return [out]
    }

    private func scaled(_ tensor: Tensor, by factor: Float, _ workspace: Workspace) throws -> Tensor {
        let out = try workspace.allocate(.float, tensor.shape)
        let src = tensor.pointer(as: Float.self), dst = out.pointer(as: Float.self)
        for i in 0..<tensor.count { dst[i] = factor * src[i] }
        return out
    }
}

/// MatMul with numpy semantics: batched, broadcast over leading dimensions, 1-D operands promoted;
/// optionally with a fused bias along the last axis (MatMul + Add) and activation.
struct MatMul: ActivationFusing {
    var activation: Activation?
    /// Added along the last axis of the result (from a fused Add).
    var bias: Tensor?
    /// A constant 2-d B (the weights) packed at load.
    var packedB: PackedMatrix?

    init(_ context: NodeContext) {
        if context.constantInputs.count > 1, let b = context.constantInputs[1], b.dataType == .float, b.rank == 2 {
            packedB = PackedMatrix(right: b.pointer(as: Float.self), k: b.shape[0], n: b.shape[1], stride: b.shape[1], transposed: false)
        }
    }

    func fused(with activation: Activation) -> any Operator {
        var copy = self
        copy.activation = activation
        return copy
    }

    /// This MatMul with `bias` added along its last axis, when `bias` is a float vector that fits
    /// the constant 2-d weight's column count (and broadcasting can't change the result's shape).
    func fused(withBias bias: Tensor, weight: Tensor?) -> MatMul? {
        guard self.bias == nil, activation == nil, bias.dataType == .float, let weight, weight.rank == 2,
              bias.rank == 1, bias.count == weight.shape[1]
        else { return nil }
        var copy = self
        copy.bias = bias
        return copy
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let a = try inputs.required(0), b = try inputs.required(1)
        try a.expect(.float, role: "A")
        try b.expect(.float, role: "B")
        let shape = try MatMulShape(a, b)
        let (m, k, n, aBatch, bBatch, batch) = (shape.m, shape.k, shape.n, shape.aBatch, shape.bBatch, shape.batch)
        let out = try workspace.allocate(.float, shape.computed)
        let pa = a.pointer(as: Float.self), pb = b.pointer(as: Float.self), po = out.pointer(as: Float.self)
        let act = activation?.kernelDescriptor ?? Activation.none
        let colBias = bias.map { UnsafePointer($0.pointer(as: Float.self)) }
        if colBias != nil { precondition(bias?.count == n, "fused bias must match the weight's columns") }

        if out.count == 0 {
            // Nothing to compute; a broadcast batch of empty products must not loop over its batch.
        } else if bBatch.reduce(1, *) == 1 && aBatch == batch {
            // The weight-matrix case: every row of every batch times one B, as a single GEMM.
            let rows = batch.reduce(1, *) * m
            if b.rank == 2, let packedB, packedB.rows == k, packedB.columns == n {
                packedB.multiply(left: pa, m: rows, lda: k, into: po, ldc: n, colBias: colBias, activation: act)
            } else {
                ds_sgemm(0, 0, rows, n, k, 1, pa, k, pb, n, 0, po, n, nil, colBias, act)
            }
        } else {
            // Each output matrix's operands (broadcast batch dimensions repeat one), then all products at once.
            var aOffsets: [Int] = [], bOffsets: [Int] = []
            Broadcast.forEachRun(outShape: batch + [1], inputShapes: [aBatch + [1], bBatch + [1]]) { _, offsets, strides, count in
                for i in 0..<count {
                    aOffsets.append((offsets[0] + i * strides[0]) * m * k)
                    bOffsets.append((offsets[1] + i * strides[1]) * k * n)
                }
            }
            ds_sgemm_batched(aOffsets.count, m, n, k, pa, aOffsets, pb, bOffsets, po, colBias, act)
        }
        return [out.reshaped(shape.result)]
    }
}
