/// MaxPool and AveragePool over any number of spatial dimensions (NC + spatial).
struct Pool: Operator {
    enum Kind: Sendable { case max, average(countIncludePad: Bool) }
    let kind: Kind
    let window: SpatialWindow
    /// MaxPool's optional Indices output: flat indices, row-major (0) or column-major (1) per image.
    let storageOrder: Int

    init(_ context: NodeContext, kind: Kind) throws {
        self.kind = kind
        window = try SpatialWindow(context, requireKernel: true)
        storageOrder = try context.attributes.int("storage_order", default: 0)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "X")
        guard x.rank >= 3 else { throw KernelError("X must be N × C × spatial…, got \(x.shape)") }
        let spatial = Array(x.shape.dropFirst(2))
        let g = try window.resolve(input: spatial)
        let rank = spatial.count
        let planes = x.shape[0] * x.shape[1]
        let inSize = spatial.reduce(1, *), outSize = g.output.reduce(1, *)
        let out = workspace.allocate(.float, Array(x.shape.prefix(2)) + g.output)
        let indices = workspace.allocate(.int64, out.shape)
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self), pi = indices.pointer(as: Int64.self)
        let inStrides = contiguousStrides(spatial)
        // Column-major strides, for storage_order 1.
        var columnStrides = [Int](repeating: 1, count: rank)
        for axis in 1..<max(rank, 1) { columnStrides[axis] = columnStrides[axis - 1] * spatial[axis - 1] }

        var position = [Int](repeating: 0, count: rank)   // output position
        var start = [Int](repeating: 0, count: rank)
        var padStart = [Int](repeating: 0, count: rank), padEnd = [Int](repeating: 0, count: rank)
        var offset = [Int](repeating: 0, count: rank)
        for o in 0..<outSize {
            var rest = o
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                position[axis] = rest % g.output[axis]
                rest /= g.output[axis]
                let first = position[axis] * g.strides[axis] - g.padBegin[axis]
                padStart[axis] = first
                padEnd[axis] = min(first + (g.kernel[axis] - 1) * g.dilations[axis] + 1, spatial[axis] + g.padEnd[axis])
                start[axis] = first
            }
            // Window element count for count_include_pad: the window clipped to the padded input.
            var paddedCount = 1
            for axis in 0..<rank {
                paddedCount *= (padEnd[axis] - padStart[axis] + g.dilations[axis] - 1) / g.dilations[axis]
            }
            for plane in 0..<planes {
                let base = px + plane * inSize
                var best = -Float.infinity, bestIndex = -1, sum: Float = 0, count = 0
                // Odometer over the kernel, skipping taps that fall in the padding.
                for axis in 0..<rank { offset[axis] = 0 }
                kernelLoop: while true {
                    var flat = 0, columnFlat = 0, inside = true
                    for axis in 0..<rank {
                        let coordinate = start[axis] + offset[axis] * g.dilations[axis]
                        if coordinate < 0 || coordinate >= spatial[axis] { inside = false; break }
                        flat += coordinate * inStrides[axis]
                        columnFlat += coordinate * columnStrides[axis]
                    }
                    if inside {
                        let value = base[flat]
                        sum += value
                        count += 1
                        if value > best || bestIndex < 0 {
                            best = value
                            bestIndex = storageOrder == 1 ? columnFlat : flat
                        }
                    }
                    var axis = rank - 1
                    while axis >= 0 {
                        offset[axis] += 1
                        if offset[axis] < g.kernel[axis] { break }
                        offset[axis] = 0
                        axis -= 1
                    }
                    if axis < 0 { break kernelLoop }
                }
                let target = plane * outSize + o
                switch kind {
                case .max:
                    py[target] = bestIndex < 0 ? -Float.infinity : best
                    pi[target] = Int64(plane * inSize + max(bestIndex, 0))
                case .average(let includePad):
                    let divisor = includePad ? paddedCount : count
                    py[target] = divisor > 0 ? sum / Float(divisor) : 0
                }
            }
        }
        if case .max = kind { return [out, indices] }
        return [out]
    }
}

/// GlobalAveragePool and GlobalMaxPool: one value per (image, channel).
struct GlobalPool: Operator {
    let isMax: Bool

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "X")
        guard x.rank >= 2 else { throw KernelError("X must be N × C × spatial…, got \(x.shape)") }
        let planes = x.shape[0] * x.shape[1], size = x.shape.dropFirst(2).reduce(1, *)
        let out = workspace.allocate(.float, Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.rank - 2))
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        for plane in 0..<planes {
            let values = UnsafeBufferPointer(start: px + plane * size, count: size)
            py[plane] = isMax ? (values.max() ?? -Float.infinity) : values.reduce(0, +) / Float(max(size, 1))
        }
        return [out]
    }
}
