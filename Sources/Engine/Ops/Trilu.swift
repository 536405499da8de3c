/// Trilu: the upper (or lower) triangle of the last two axes, from diagonal k (an optional scalar
/// input) on; everything else zero. Any element type.
struct Trilu: Operator {
    let upper: Bool

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        guard x.rank >= 2 else { throw KernelError("input must have rank 2 or more, is \(x.shape)") }
        var k = 0
        if let given = inputs.optional(1) {
            try given.expect(.int64, role: "k")
            guard given.count == 1 else { throw KernelError("k must be a scalar, is \(given.shape)") }
            k = Int(clamping: given.int64Element(at: 0))
        }
        let out = try workspace.allocate(x.dataType, x.shape)
        if out.count == 0 { return [out] }
        let rows = x.shape[x.rank - 2], columns = x.shape[x.rank - 1], size = x.dataType.size
        let matrices = x.count / (rows * columns)
        for m in 0..<matrices {
            try workspace.checkpoint()
            for i in 0..<rows {
                for j in 0..<columns {
                    let index = (m * rows + i) * columns + j
                    // j - i cannot overflow (both are dimensions); k was clamped to Int.
                    let keep = upper ? j - i >= k : j - i <= k
                    if keep {
                        copyElement(x.storage.bytes, index, out.storage.bytes, index, size: size)
                    } else {
                        (out.storage.bytes + index * size).initializeMemory(as: UInt8.self, repeating: 0, count: size)
                    }
                }
            }
        }
        return [out]
    }
}
