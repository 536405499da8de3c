import CKernels

/// MaxPool and AveragePool over any number of spatial dimensions (NC + spatial).
struct Pool: Operator {
    enum Kind: Sendable { case max, average(countIncludePad: Bool) }
    let kind: Kind
    let window: SpatialWindow
    /// MaxPool's optional Indices output: flat indices, row-major (0) or column-major (1) per image.
    let storageOrder: Int
    let wantsIndices: Bool

    init(_ context: NodeContext, kind: Kind) throws {
        self.kind = kind
        wantsIndices = context.outputCount > 1
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
        let out = try workspace.allocate(.float, Array(x.shape.prefix(2)) + g.output)
        if out.count == 0 {   // batch or channels 0: the per-pixel tables below would still be sized by the image
            return wantsIndices ? [out, try workspace.allocate(.int64, out.shape)] : [out]
        }
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        if rank == 2 && !wantsIndices {
            pool2D(px, py, planes: planes, height: spatial[0], width: spatial[1], g)
            return [out]
        }
        let indices = try workspace.allocate(.int64, out.shape)
        let pi = indices.pointer(as: Int64.self)
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
        return wantsIndices ? [out, indices] : [out]
    }
}

extension Pool {
    /// The common 2-d case, with the window clipped to the image once per output pixel.
    private func pool2D(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, planes: Int, height: Int, width: Int, _ g: SpatialWindow.Resolved) {
        let (outH, outW) = (g.output[0], g.output[1])
        let (kh, kw) = (g.kernel[0], g.kernel[1]), (sh, sw) = (g.strides[0], g.strides[1])
        let (dh, dw) = (g.dilations[0], g.dilations[1]), (ph, pw) = (g.padBegin[0], g.padBegin[1])
        // First and one-past-last kernel tap inside [0, size) for a window starting at `first`.
        func taps(_ first: Int, _ size: Int, _ kernel: Int, _ dilation: Int) -> (Int, Int) {
            let low = first < 0 ? (-first + dilation - 1) / dilation : 0
            let high = min(kernel, first >= size ? 0 : (size - first + dilation - 1) / dilation)
            return (low, max(low, high))
        }
        // Taps inside the padded input, for count_include_pad.
        func paddedTaps(_ first: Int, _ size: Int, _ padEnd: Int, _ kernel: Int, _ dilation: Int) -> Int {
            let limit = size + padEnd - first
            return max(0, min(kernel, (limit + dilation - 1) / dilation))
        }
        let columnRanges = (0..<kw).map { j -> (Int, Int) in
            let valid = (0..<outW).filter { ox in let ix = ox * sw - pw + j * dw; return ix >= 0 && ix < width }
            return (valid.first ?? 0, (valid.last ?? -1) + 1)
        }
        var divisors: [Float]?
        if case .average(let includePad) = kind {
            divisors = (0..<(outH * outW)).map { o in
                let (oy, ox) = (o / outW, o % outW)
                let (i0, i1) = taps(oy * sh - ph, height, kh, dh), (j0, j1) = taps(ox * sw - pw, width, kw, dw)
                let count = includePad
                    ? paddedTaps(oy * sh - ph, height, g.padEnd[0], kh, dh) * paddedTaps(ox * sw - pw, width, g.padEnd[1], kw, dw)
                    : (i1 - i0) * (j1 - j0)
                return count > 0 ? 1 / Float(count) : 0
            }
        }
        ds_pool2d(x, planes, height, width, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW,
                  columnRanges.map(\.0), columnRanges.map(\.1), divisors, y)
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
        let out = try workspace.allocate(.float, Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.rank - 2))
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        for plane in 0..<planes {
            let values = UnsafeBufferPointer(start: px + plane * size, count: size)
            py[plane] = isMax ? (values.max() ?? -Float.infinity) : Float(ds_sum_f32(px + plane * size, size) / Double(max(size, 1)))
        }
        return [out]
    }
}
