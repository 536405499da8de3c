/// OneHot: for each index, a `depth`-long run of the "off" value with the "on" value at the index
/// (negative indices count from the end; out-of-range ones give all "off"), inserted at `axis`.
/// The output has the type of `values` ([off, on]).
struct OneHot: Operator {
    let axis: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let indices = try inputs.required(0), depthTensor = try inputs.required(1), values = try inputs.required(2)
        guard indices.dataType != .bool, depthTensor.dataType != .bool else { throw KernelError("indices and depth must be numeric") }
        guard depthTensor.count == 1 else { throw KernelError("depth must hold one value, is \(depthTensor.shape)") }
        guard values.count == 2 else { throw KernelError("values must hold [off, on], is \(values.shape)") }
        let depth = Int(clamping: depthTensor.int64Element(at: 0))   // floats truncate and saturate
        guard depth >= 1 else { throw KernelError("depth must be positive, is \(depth)") }
        let rank = indices.rank + 1
        let value = axis < 0 ? axis + rank : axis
        guard value >= 0, value < rank else { throw KernelError("axis \(axis) is out of range for an output of rank \(rank)") }
        var shape = indices.shape
        shape.insert(depth, at: value)
        let out = try workspace.allocate(values.dataType, shape)
        if out.count == 0 { return [out] }
        let size = values.dataType.size
        for i in 0..<out.count {
            if i & 0xFFFF == 0xFFFF { try workspace.checkpoint() }
            copyElement(values.storage.bytes, 0, out.storage.bytes, i, size: size)
        }
        let outer = indices.shape[..<value].reduce(1, *), inner = indices.shape[value...].reduce(1, *)
        for o in 0..<outer {
            try workspace.checkpoint()
            for i in 0..<inner {
                let raw = indices.int64Element(at: o * inner + i)
                guard raw >= -Int64(depth), raw < Int64(depth) else { continue }
                // In -depth..<depth (checked above), so it fits an Int on every platform.
                let index = Int(truncatingIfNeeded: raw < 0 ? raw + Int64(depth) : raw)
                copyElement(values.storage.bytes, 1, out.storage.bytes, (o * depth + index) * inner + i, size: size)
            }
        }
        return [out]
    }
}
