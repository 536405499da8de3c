/// ScatterND: a copy of `data` where each innermost row of `indices` (length k) addresses a slice
/// that the matching slice of `updates` replaces (or combines with, per `reduction`).
struct ScatterND: Operator {
    let reduction: ScatterReduction

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let data = try inputs.required(0), indices = try inputs.required(1), updates = try inputs.required(2)
        try indices.expect(.int64, .int32, role: "indices")
        guard indices.rank >= 1, updates.dataType == data.dataType else {
            throw KernelError("indices \(indices.shape) must have rank 1 or more, updates (\(updates.dataType)) the data's type \(data.dataType)")
        }
        let k = indices.shape[indices.rank - 1]
        guard k <= data.rank, updates.shape == Array(indices.shape.dropLast()) + Array(data.shape[k...]) else {
            throw KernelError("updates \(updates.shape) must be indices \(indices.shape) without the last axis, then data \(data.shape) after \(k) axes")
        }
        let out = try mutableCopy(data, workspace)
        let rows = indices.shape.dropLast().reduce(1, *)
        if rows == 0 || out.count == 0 { return [out] }   // also: k = 0 rows of an empty data tensor
        let slice = data.shape[k...].reduce(1, *), strides = contiguousStrides(data.shape), positions = indices.int64Array()
        var targets = [Int](repeating: 0, count: rows)
        for row in 0..<rows {
            if row & 0xFFF == 0xFFF { try workspace.checkpoint() }
            var offset = 0
            for j in 0..<k { offset += try checkedIndex(positions[row * k + j], dim: data.shape[j], role: "index") * strides[j] }
            targets[row] = offset
        }
        try workspace.checkpoint()
        try reduction.apply(updates, to: out, targets: targets, sliceLength: slice, workspace)
        return [out]
    }
}
