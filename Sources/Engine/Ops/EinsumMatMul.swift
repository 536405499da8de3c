import CKernels

/// Einsum's fast path for two float32 operands with no label repeated within a term and every
/// summed label in both: the operands are transposed (and broadcast) into [batch, m, k] and
/// [batch, k, n], multiplied batch by batch with the GEMM kernel, and the product is transposed
/// into the output's label order ("bhqd,bhkd->bhqk" is one batched matmul, not a loop per product).
struct EinsumMatMul {
    let plan: EinsumEquation.LoopPlan
    let batch: [Int], rows: [Int], inner: [Int], columns: [Int]

    init?(_ plan: EinsumEquation.LoopPlan) {
        guard plan.axisLabels.count == 2 else { return nil }
        let a = plan.axisLabels[0], b = plan.axisLabels[1], inA = Set(a), inB = Set(b)
        guard inA.count == a.count, inB.count == b.count,
              plan.summedLabels.allSatisfy({ inA.contains($0) && inB.contains($0) }), !plan.summedSizes.contains(0) else { return nil }
        self.plan = plan
        batch = plan.outputLabels.filter { inA.contains($0) && inB.contains($0) }
        rows = plan.outputLabels.filter { inA.contains($0) && !inB.contains($0) }
        columns = plan.outputLabels.filter { !inA.contains($0) && inB.contains($0) }
        inner = plan.summedLabels
        guard batch.count + rows.count + columns.count == plan.outputLabels.count else { return nil }
    }

    private func size(_ labels: [Int]) -> [Int] { labels.map { plan.sizes[$0] ?? 1 } }

    /// Called with a non-empty output: every label's size is positive.
    func run(_ operands: [Tensor], _ out: Tensor, _ workspace: Workspace) throws {
        let (b, m, k, n) = (size(batch).reduce(1, *), size(rows).reduce(1, *), size(inner).reduce(1, *), size(columns).reduce(1, *))
        var left = try gathered(operands[0], labels: plan.axisLabels[0], order: batch + rows + inner, workspace)
        var right = try gathered(operands[1], labels: plan.axisLabels[1], order: batch + inner + columns, workspace)
        var product = try workspace.allocate(.float, [b, m, n])
        defer { workspace.recycle(&left); workspace.recycle(&right); workspace.recycle(&product) }
        let pa = left.pointer(as: Float.self), pb = right.pointer(as: Float.self), pc = product.pointer(as: Float.self)
        let block = 256   // rows per GEMM call, so the run's limits are checked within one large product
        for i in 0..<b {
            for r in stride(from: 0, to: m, by: block) {
                try workspace.checkpoint()
                ds_sgemm(0, 0, min(block, m - r), n, k, 1, pa + (i * m + r) * k, k, pb + i * k * n, n, 0, pc + (i * m + r) * n, n,
                         nil, nil, Activation.none)
            }
        }
        let productLabels = batch + rows + columns, strides = contiguousStrides(size(productLabels))
        stridedCopy(from: product.storage.bytes, offset: 0, strides: plan.outputLabels.map { strides[productLabels.firstIndex(of: $0)!] },
                    shape: out.shape, elementSize: 4, to: out.storage.bytes)
    }

    /// `tensor` copied with its axes in `order` (labels it holds once each); an axis of size 1
    /// under a larger label is broadcast (stride 0).
    private func gathered(_ tensor: Tensor, labels: [Int], order: [Int], _ workspace: Workspace) throws -> Tensor {
        let strides = contiguousStrides(tensor.shape), shape = size(order)
        let out = try workspace.allocate(.float, shape)
        stridedCopy(from: tensor.storage.bytes, offset: 0, strides: order.map { label in
            guard let axis = labels.firstIndex(of: label), tensor.shape[axis] != 1 else { return 0 }
            return strides[axis]
        }, shape: shape, elementSize: 4, to: out.storage.bytes)
        return out
    }
}
