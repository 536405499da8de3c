/// ScatterElements: a copy of `data` where each `updates[i₀…iₙ]` is written to (or combined with,
/// per `reduction`) the element whose coordinate on `axis` is `indices[i₀…iₙ]`.
struct ScatterElements: Operator {
    let axis: Int
    let reduction: ScatterReduction

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let data = try inputs.required(0), indices = try inputs.required(1), updates = try inputs.required(2)
        try indices.expect(.int64, .int32, role: "indices")
        guard data.rank >= 1, indices.rank == data.rank, updates.shape == indices.shape, updates.dataType == data.dataType else {
            throw KernelError("data \(data.shape), indices \(indices.shape) and updates \(updates.shape) (\(updates.dataType)) do not fit together")
        }
        let axis = try normalizedAxis(self.axis, rank: data.rank)
        for d in 0..<data.rank where d != axis && indices.shape[d] > data.shape[d] {
            throw KernelError("indices \(indices.shape) are larger than data \(data.shape) on axis \(d)")
        }
        let out = try mutableCopy(data, workspace)
        if indices.count == 0 { return [out] }
        let positions = indices.int64Array(), strides = contiguousStrides(data.shape), dim = data.shape[axis]
        var targets = [Int](repeating: 0, count: indices.count)
        var counter = CoordinateCounter(indices.shape)
        for i in 0..<indices.count {
            var target = 0
            for d in 0..<data.rank {
                target += (d == axis ? try checkedIndex(positions[i], dim: dim, role: "index") : counter.coordinate[d]) * strides[d]
            }
            targets[i] = target
            counter.advance()
        }
        try workspace.checkpoint()
        try reduction.apply(updates, to: out, targets: targets, sliceLength: 1, workspace)
        return [out]
    }
}
