/// NonZero: the coordinates of the non-zero elements, as int64 [rank, count] in row-major order
/// (a scalar counts as one element of a 1-d tensor, as onnxruntime does).
struct NonZero: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let given = try inputs.required(0)
        let x = given.rank == 0 ? given.reshaped([1]) : given
        var found: [Int] = []
        for i in 0..<x.count {
            if i & 0xFFFF == 0xFFFF { try workspace.checkpoint() }
            if x.int64OrDouble(at: i) != 0 { found.append(i) }   // exact for every type: no non-zero maps to 0
        }
        let out = try workspace.allocate(.int64, [x.rank, found.count])
        let dst = out.pointer(as: Int64.self), strides = contiguousStrides(x.shape)
        for (n, flat) in found.enumerated() {
            var rest = flat
            for axis in 0..<x.rank {
                dst[axis * found.count + n] = Int64(rest / strides[axis])
                rest %= strides[axis]
            }
        }
        return [out]
    }
}
