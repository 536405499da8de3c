/// GatherND: each innermost row of `indices` (length m) addresses a slice of `data` after the
/// first `batch_dims` axes, which indices and data share. Any element type.
struct GatherND: Operator {
    let batchDims: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let data = try inputs.required(0), indices = try inputs.required(1)
        try indices.expect(.int64, .int32, role: "indices")
        let b = batchDims, r = data.rank, q = indices.rank
        guard q >= 1, r >= 1, b >= 0, b < min(q, r) else {
            throw KernelError("batch_dims \(b) does not fit data \(data.shape) and indices \(indices.shape)")
        }
        let m = indices.shape[q - 1]
        guard m <= r - b, Array(indices.shape[..<b]) == Array(data.shape[..<b]) else {
            throw KernelError("indices \(indices.shape) do not address data \(data.shape) with batch_dims \(b)")
        }
        let out = try workspace.allocate(data.dataType, Array(indices.shape[..<(q - 1)]) + Array(data.shape[(b + m)...]))
        if out.count == 0 { return [out] }
        let batches = data.shape[..<b].reduce(1, *)
        let tuples = indices.shape[b..<(q - 1)].reduce(1, *)
        let slice = data.shape[(b + m)...].reduce(1, *), batchStride = data.shape[b...].reduce(1, *)
        let strides = contiguousStrides(data.shape), positions = indices.int64Array(), size = data.dataType.size
        for batch in 0..<batches {
            for t in 0..<tuples {
                let row = batch * tuples + t
                if row & 0xFFF == 0 { try workspace.checkpoint() }
                var offset = batch * batchStride
                for k in 0..<m {
                    offset += try checkedIndex(positions[row * m + k], dim: data.shape[b + k], role: "index") * strides[b + k]
                }
                (out.storage.bytes + row * slice * size).copyMemory(from: data.storage.bytes + offset * size, byteCount: slice * size)
            }
        }
        return [out]
    }
}
