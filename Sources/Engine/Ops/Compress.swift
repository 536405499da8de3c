/// Compress: the slices along `axis` whose entry in the bool `condition` is true (slices past the
/// condition's end count as false, entries past the axis' end are ignored, as onnxruntime does);
/// without an axis, the flattened input's elements.
struct Compress: Operator {
    let axis: Int?

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let given = try inputs.required(0), condition = try inputs.required(1)
        try condition.expect(.bool, role: "condition")
        guard condition.rank == 1 else { throw KernelError("condition must be 1-d, is \(condition.shape)") }
        let x = axis == nil ? given.reshaped([given.count]) : given
        let axis = try normalizedAxis(self.axis ?? 0, rank: x.rank)
        let dim = x.shape[axis], flags = condition.pointer(as: UInt8.self)
        var selected: [Int] = []
        for j in 0..<min(condition.count, dim) where flags[j] != 0 { selected.append(j) }
        var shape = x.shape
        shape[axis] = selected.count
        let out = try workspace.allocate(x.dataType, shape)
        if out.count == 0 { return [out] }
        let outer = x.shape[..<axis].reduce(1, *), chunk = x.shape[(axis + 1)...].reduce(1, *) * x.dataType.size
        for o in 0..<outer {
            try workspace.checkpoint()
            for (n, j) in selected.enumerated() {
                (out.storage.bytes + (o * selected.count + n) * chunk).copyMemory(from: x.storage.bytes + (o * dim + j) * chunk, byteCount: chunk)
            }
        }
        return [out]
    }
}
