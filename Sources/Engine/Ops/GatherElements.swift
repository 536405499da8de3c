/// GatherElements: `out[i₀…iₙ] = data[i₀…indices[i₀…iₙ]…iₙ]` (the index replaces the coordinate on
/// `axis`), on any element type.
struct GatherElements: Operator {
    let axis: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let data = try inputs.required(0), indices = try inputs.required(1)
        try indices.expect(.int64, .int32, role: "indices")
        guard data.rank >= 1, indices.rank == data.rank else {
            throw KernelError("data \(data.shape) and indices \(indices.shape) must have the same rank, at least 1")
        }
        let axis = try normalizedAxis(self.axis, rank: data.rank)
        for d in 0..<data.rank where d != axis && indices.shape[d] > data.shape[d] {
            throw KernelError("indices \(indices.shape) are larger than data \(data.shape) on axis \(d)")
        }
        let out = try workspace.allocate(data.dataType, indices.shape)
        if out.count == 0 { return [out] }
        let positions = indices.int64Array(), strides = contiguousStrides(data.shape)
        let dim = data.shape[axis], size = data.dataType.size
        var counter = CoordinateCounter(indices.shape)
        for o in 0..<out.count {
            if o & 0xFFFF == 0xFFFF { try workspace.checkpoint() }
            var source = 0
            for d in 0..<data.rank {
                let c = d == axis ? try checkedIndex(positions[o], dim: dim, role: "index") : counter.coordinate[d]
                source += c * strides[d]
            }
            copyElement(data.storage.bytes, source, out.storage.bytes, o, size: size)
            counter.advance()
        }
        return [out]
    }
}
