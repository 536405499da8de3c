/// Operators that move elements without arithmetic: Transpose, Concat, Split, Slice, Gather, Tile, Pad.
/// They work on any element type by copying whole elements.

/// Copies elements at `offset + Σ index·strides` (strides in elements, may be negative) into a
/// contiguous `shape`-shaped block at `dst`.
func stridedCopy(from src: UnsafeRawPointer, offset: Int, strides: [Int], shape: [Int], elementSize: Int,
                 to dst: UnsafeMutableRawPointer) {
    let (shape, strides) = coalesced(shape: shape, strides: strides)
    // Rows that lie contiguously in the source (a slice along an outer axis, a transpose that keeps the last axes
    // together) are copied a row at a time, not an element at a time.
    if let row = shape.last, strides.last == 1 {
        let rowBytes = row * elementSize
        forEachRow(shape: shape, strides: strides, offset: offset) { index, start in
            (dst + index * rowBytes).copyMemory(from: src + start * elementSize, byteCount: rowBytes)
        }
        return
    }
    switch elementSize {
    case 1: stridedCopy(src, offset, strides, shape, dst, UInt8.self)
    case 2: stridedCopy(src, offset, strides, shape, dst, UInt16.self)
    case 4: stridedCopy(src, offset, strides, shape, dst, UInt32.self)
    default: stridedCopy(src, offset, strides, shape, dst, UInt64.self)
    }
}

/// The same walk over fewer axes: axes of size 1 dropped, and each axis merged into the one before it where the
/// source steps over it exactly as over one longer axis (stride of the outer = stride × size of the inner). The
/// elements visited, and their order, are unchanged. A copy with no element keeps one axis of size 0.
func coalesced(shape: [Int], strides: [Int]) -> (shape: [Int], strides: [Int]) {
    if shape.contains(0) { return ([0], [1]) }
    var outShape: [Int] = [], outStrides: [Int] = []
    for (size, stride) in zip(shape, strides) where size != 1 {
        if let last = outShape.last, outStrides[outStrides.count - 1] == stride * size {
            outShape[outShape.count - 1] = last * size
            outStrides[outStrides.count - 1] = stride
        } else {
            outShape.append(size)
            outStrides.append(stride)
        }
    }
    return outShape.isEmpty ? ([1], [1]) : (outShape, outStrides)
}

/// Calls `body(row, start)` for each row (last axis) of `shape`, in order, with the source offset of its first
/// element.
private func forEachRow(shape: [Int], strides: [Int], offset: Int, _ body: (Int, Int) -> Void) {
    let outer = shape.count - 1
    let rows = shape[..<outer].reduce(1, *)
    guard rows > 0 else { return }
    var counter = [Int](repeating: 0, count: outer)
    var base = offset
    for row in 0..<rows {
        body(row, base)
        var axis = outer - 1
        while axis >= 0 {
            counter[axis] += 1
            base += strides[axis]
            if counter[axis] < shape[axis] { break }
            base -= strides[axis] * shape[axis]
            counter[axis] = 0
            axis -= 1
        }
    }
}

private func stridedCopy<T>(_ src: UnsafeRawPointer, _ offset: Int, _ strides: [Int], _ shape: [Int],
                            _ dst: UnsafeMutableRawPointer, _ type: T.Type) {
    let source = src.assumingMemoryBound(to: T.self), target = dst.assumingMemoryBound(to: T.self)
    let innerLength = shape[shape.count - 1], innerStride = strides[strides.count - 1]   // coalesced: never empty
    forEachRow(shape: shape, strides: strides, offset: offset) { row, start in
        var p = start
        let o = row * innerLength
        for i in 0..<innerLength { target[o + i] = source[p]; p += innerStride }
    }
}

struct Transpose: Operator {
    let perm: [Int]?

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let perm = self.perm ?? Array((0..<x.rank).reversed())
        guard perm.count == x.rank, Set(perm) == Set(0..<x.rank) else {
            throw KernelError("perm \(perm) is not a permutation of the \(x.rank) axes of \(x.shape)")
        }
        let strides = contiguousStrides(x.shape)
        let out = try workspace.allocate(x.dataType, perm.map { x.shape[$0] })
        stridedCopy(from: x.storage.bytes, offset: 0, strides: perm.map { strides[$0] }, shape: out.shape,
                    elementSize: x.dataType.size, to: out.storage.bytes)
        return [out]
    }
}

struct Concat: Operator {
    let axis: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let tensors = inputs.compactMap { $0 }
        guard let first = tensors.first else { throw KernelError("needs at least one input") }
        let axis = try normalizedAxis(self.axis, rank: first.rank)
        var shape = first.shape
        shape[axis] = 0
        for tensor in tensors {
            guard tensor.dataType == first.dataType, tensor.rank == first.rank,
                  tensor.shape.enumerated().allSatisfy({ $0.offset == axis || $0.element == first.shape[$0.offset] })
            else {
                throw KernelError("cannot concatenate \(tensors.map(\.description).joined(separator: ", ")) on axis \(axis)")
            }
            // Empty inputs may have huge dimensions: add without trapping, allocate checks the rest.
            let (sum, overflow) = shape[axis].addingReportingOverflow(tensor.shape[axis])
            guard !overflow else { throw KernelError("concatenating on axis \(axis) gives more elements than can be counted") }
            shape[axis] = sum
        }
        let out = try workspace.allocate(first.dataType, shape)
        if out.count == 0 { return [out] }
        let outer = shape[..<axis].reduce(1, *), size = first.dataType.size
        let rowBytes = shape[axis...].reduce(1, *) * size
        var column = 0
        for tensor in tensors {
            let chunk = tensor.shape[axis...].reduce(1, *) * size
            for o in 0..<outer where chunk > 0 {
                (out.storage.bytes + o * rowBytes + column).copyMemory(from: tensor.storage.bytes + o * chunk, byteCount: chunk)
            }
            column += chunk
        }
        return [out]
    }
}

struct Split: Operator {
    let axis: Int
    let attributeSplit: [Int]?
    let outputCount: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let axis = try normalizedAxis(self.axis, rank: x.rank)
        let dim = x.shape[axis]
        var sizes = try attributeSplit ?? inputs.optional(1).map { try indexList($0, role: "split") }
        guard outputCount > 0 else { throw KernelError("Split needs at least one output") }
        if sizes == nil {
            // Equal parts; with num_outputs (opset 18) the last may be smaller.
            let part = (dim + outputCount - 1) / outputCount
            sizes = (0..<outputCount).map { max(0, min(part, dim - $0 * part)) }
        }
        guard let sizes, sizes.count == outputCount, sizes.allSatisfy({ (0...dim).contains($0) }),
              sizes.reduce(0, { $0 > dim ? $0 : $0 + $1 }) == dim else {   // stops adding past dim: no overflow
            throw KernelError("split \(sizes ?? []) does not divide dimension \(axis) (\(dim)) into \(outputCount) outputs")
        }
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *), size = x.dataType.size
        var start = 0
        return try sizes.map { length in
            var shape = x.shape
            shape[axis] = length
            let out = try workspace.allocate(x.dataType, shape)
            for o in 0..<(length > 0 && inner > 0 ? outer : 0) {
                (out.storage.bytes + o * length * inner * size).copyMemory(
                    from: x.storage.bytes + (o * dim + start) * inner * size, byteCount: length * inner * size)
            }
            start += length
            return out
        }
    }
}

struct Slice: Operator {
    /// Opset < 10 gives starts/ends/axes as attributes.
    let attributes: (starts: [Int], ends: [Int], axes: [Int]?)?

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let starts: [Int], ends: [Int], givenAxes: [Int]?, steps: [Int]?
        if let attributes {
            (starts, ends, givenAxes, steps) = (attributes.starts, attributes.ends, attributes.axes, nil)
        } else {
            starts = try indexList(try inputs.required(1), role: "starts")
            ends = try indexList(try inputs.required(2), role: "ends")
            givenAxes = try inputs.optional(3).map { try indexList($0, role: "axes") }
            steps = try inputs.optional(4).map { try indexList($0, role: "steps") }
        }
        let axes = try (givenAxes ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: x.rank) }
        guard starts.count == ends.count, axes.count == starts.count, steps.map({ $0.count == starts.count }) ?? true,
              Set(axes).count == axes.count else {
            throw KernelError("starts, ends, axes and steps must have one value per sliced axis, without repeats")
        }
        var begin = [Int](repeating: 0, count: x.rank), step = [Int](repeating: 1, count: x.rank)
        var shape = x.shape
        for (i, axis) in axes.enumerated() {
            // Steps beyond ±2^40 select the same elements as any step past the dimension; clamping
            // them keeps the arithmetic below from overflowing.
            let dim = x.shape[axis], s = min(max(steps?[i] ?? 1, -(1 << 40)), 1 << 40)
            guard s != 0 else { throw KernelError("steps must not be zero") }
            (begin[axis], shape[axis]) = Self.window(dim: dim, start: starts[i], end: ends[i], step: s)
            step[axis] = s
        }
        let strides = contiguousStrides(x.shape)
        let out = try workspace.allocate(x.dataType, shape)
        let offset = zip(begin, strides).reduce(0) { $0 + $1.0 * $1.1 }
        stridedCopy(from: x.storage.bytes, offset: offset, strides: zip(strides, step).map { $0 * $1 }, shape: shape,
                    elementSize: x.dataType.size, to: out.storage.bytes)
        return [out]
    }

    /// The first index and the element count a slice selects along an axis of size `dim`: start and end clamped as
    /// ONNX says, `step` nonzero and within ±2^40 (so nothing here overflows).
    static func window(dim: Int, start: Int, end: Int, step s: Int) -> (start: Int, length: Int) {
        var start = start < 0 ? start + dim : start
        var end = end < 0 ? end + dim : end
        if s > 0 {
            start = min(max(start, 0), dim)
            end = min(max(end, 0), dim)
            return (start, end > start ? (end - start + s - 1) / s : 0)
        }
        start = min(max(start, -1), dim - 1)
        end = min(max(end, -1), dim - 1)
        return (start, start > end ? (start - end - s - 1) / -s : 0)
    }
}

struct Gather: Operator {
    let axis: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let data = try inputs.required(0), indices = try inputs.required(1)
        try indices.expect(.int64, .int32, role: "indices")
        let axis = try normalizedAxis(self.axis, rank: data.rank)
        let dim = data.shape[axis]
        let outer = data.shape[..<axis].reduce(1, *), inner = data.shape[(axis + 1)...].reduce(1, *)
        let out = try workspace.allocate(data.dataType, Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...]))
        let chunk = inner * data.dataType.size
        let positions = indices.int64Array()
        for (i, raw) in positions.enumerated() {
            let index = raw < 0 ? Int(raw) + dim : Int(raw)
            guard index >= 0, index < dim else { throw KernelError("index \(raw) is out of range for dimension \(axis) of size \(dim)") }
            for o in 0..<(chunk > 0 ? outer : 0) {
                (out.storage.bytes + (o * positions.count + i) * chunk).copyMemory(
                    from: data.storage.bytes + (o * dim + index) * chunk, byteCount: chunk)
            }
        }
        return [out]
    }
}

struct Tile: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let repeats = try indexList(try inputs.required(1), role: "repeats")
        guard repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw KernelError("repeats \(repeats) must have one non-negative value per axis of \(x.shape)")
        }
        let shape = try zip(x.shape, repeats).map { dim, times in
            let (product, overflow) = dim.multipliedReportingOverflow(by: times)
            guard !overflow else { throw KernelError("repeats \(repeats) overflow the shape \(x.shape)") }
            return product
        }
        let out = try workspace.allocate(x.dataType, shape)
        let strides = contiguousStrides(x.shape), size = x.dataType.size
        var coordinate = [Int](repeating: 0, count: x.rank)
        for o in 0..<out.count {
            var rest = o, source = 0
            for axis in stride(from: x.rank - 1, through: 0, by: -1) {
                coordinate[axis] = rest % shape[axis]
                rest /= shape[axis]
                source += (coordinate[axis] % x.shape[axis]) * strides[axis]
            }
            (out.storage.bytes + o * size).copyMemory(from: x.storage.bytes + source * size, byteCount: size)
        }
        return [out]
    }
}

struct Pad: Operator {
    enum Mode: String, Sendable {
        case constant, reflect, edge, wrap

        /// The input index output index `c` (already shifted by the pad) reads along an axis of
        /// length `dim`, or nil where constant padding fills it.
        func sourceIndex(_ c: Int, dim: Int) -> Int? {
            if c >= 0 && c < dim { return c }
            switch self {
            case .constant: return nil
            case .edge: return min(max(c, 0), dim - 1)
            case .wrap: return ((c % dim) + dim) % dim
            case .reflect:
                if dim == 1 { return 0 }
                let period = 2 * (dim - 1)
                let folded = ((c % period) + period) % period
                return folded >= dim ? period - folded : folded
            }
        }
    }
    let mode: Mode
    /// Opset < 11: pads and value are attributes.
    let attributePads: [Int]?
    let attributeValue: Float

    init(_ context: NodeContext) throws {
        let name = try context.attributes.string("mode", default: "constant")
        guard let mode = Mode(rawValue: name) else {
            throw context.invalid("mode", "must be constant, reflect, edge or wrap, is '\(name)'")
        }
        self.mode = mode
        attributePads = context.opset < 11 ? try context.attributes.ints("pads") : nil
        attributeValue = try context.attributes.float("value", default: 0)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let rank = x.rank
        let given = try attributePads ?? indexList(try inputs.required(1), role: "pads")
        let axes = try inputs.optional(3).map { try indexList($0, role: "axes").map { try normalizedAxis($0, rank: rank) } }
            ?? Array(0..<rank)
        guard given.count == 2 * axes.count else { throw KernelError("pads has \(given.count) values for \(axes.count) axes") }
        // A range, not abs: abs(Int.min) traps.
        guard given.allSatisfy({ (-(1 << 31)...(1 << 31)).contains($0) }) else { throw KernelError("pads \(given) are out of range") }
        var begin = [Int](repeating: 0, count: rank), end = [Int](repeating: 0, count: rank)
        for (i, axis) in axes.enumerated() {
            begin[axis] = given[i]
            end[axis] = given[axes.count + i]
        }
        let shape = (0..<rank).map { x.shape[$0] + begin[$0] + end[$0] }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw KernelError("pads \(given) crop more than \(x.shape) holds") }
        if mode != .constant, zip(x.shape, shape).contains(where: { $0 == 0 && $1 > 0 }) {
            throw KernelError("\(mode.rawValue) padding needs a non-empty input")
        }
        let out = try workspace.allocate(x.dataType, shape)
        let size = x.dataType.size
        // The fill value, converted to the input's type.
        var fillValue = Tensor(scalar: attributeValue)
        if let value = inputs.optional(2), value.count > 0 { fillValue = value }
        let fillElement = try convert(fillValue.reshaped(fillValue.count == 1 ? [] : fillValue.shape), to: x.dataType, workspace)
        if out.count == 0 { return [out] }
        guard rank > 0 else {
            out.storage.bytes.copyMemory(from: x.storage.bytes, byteCount: size)
            return [out]
        }
        if mode == .constant, rank >= 2, begin.allSatisfy({ $0 >= 0 }), end.allSatisfy({ $0 >= 0 }),
           (0..<(rank - 2)).allSatisfy({ begin[$0] == 0 && end[$0] == 0 }) {
            padPlanes(x, into: out, top: begin[rank - 2], bottom: end[rank - 2], left: begin[rank - 1],
                      right: end[rank - 1], fill: fillElement)
            return [out]
        }
        // One output row (the last axis) at a time: the source row is found once per row, its
        // inside part is one memcpy, and only the padding is filled or mapped element by element.
        // Constant padding copies from a row of fill values made once, a memcpy per stretch.
        let strides = contiguousStrides(x.shape)
        let last = rank - 1, rowLength = shape[last], width = x.shape[last]
        let src = x.storage.bytes, dst = out.storage.bytes, fill = fillElement.storage.bytes
        let fillRow = UnsafeMutableRawPointer.allocate(byteCount: rowLength * size, alignment: 16)
        defer { fillRow.deallocate() }
        for j in 0..<rowLength { (fillRow + j * size).copyMemory(from: fill, byteCount: size) }
        let insideBegin = min(max(begin[last], 0), rowLength), insideEnd = min(max(begin[last] + width, insideBegin), rowLength)
        let margins = (insideBegin > 0 ? [0..<insideBegin] : []) + (insideEnd < rowLength ? [insideEnd..<rowLength] : [])
        var coordinate = [Int](repeating: 0, count: last)
        for row in 0..<(out.count / rowLength) {
            var source = 0, inside = true
            for axis in 0..<last {
                guard let c = mode.sourceIndex(coordinate[axis] - begin[axis], dim: x.shape[axis]) else { inside = false; break }
                source += c * strides[axis]
            }
            let target = dst + row * rowLength * size
            if !inside {
                target.copyMemory(from: fillRow, byteCount: rowLength * size)
            } else {
                let sourceRow = src + source * size
                for margin in margins {
                    if mode == .constant {
                        (target + margin.lowerBound * size).copyMemory(from: fillRow, byteCount: margin.count * size)
                        continue
                    }
                    for j in margin {
                        if let c = mode.sourceIndex(j - begin[last], dim: width) {
                            (target + j * size).copyMemory(from: sourceRow + c * size, byteCount: size)
                        } else {
                            (target + j * size).copyMemory(from: fill, byteCount: size)
                        }
                    }
                }
                if insideEnd > insideBegin {
                    (target + insideBegin * size).copyMemory(from: sourceRow + (insideBegin - begin[last]) * size,
                                                             byteCount: (insideEnd - insideBegin) * size)
                }
            }
            // Next output row: advance the odometer over the outer axes.
            var axis = last - 1
            while axis >= 0 {
                coordinate[axis] += 1
                if coordinate[axis] < shape[axis] { break }
                coordinate[axis] = 0
                axis -= 1
            }
        }
        return [out]
    }

    /// Constant padding of the last two axes only, none cropped (a convolution's spatial padding in NCHW), plane by
    /// plane: each input row is one copy between its two margins, with none of the general path's per-row work over
    /// the outer axes (DenseNet-121's 32 × 64 × 114 × 114 Pad took 69 ms that way, 3× onnxruntime's time).
    private func padPlanes(_ x: Tensor, into out: Tensor, top: Int, bottom: Int, left: Int, right: Int, fill: Tensor) {
        let size = x.dataType.size, rank = x.rank
        let (height, width) = (x.shape[rank - 2], x.shape[rank - 1])
        let rowBytes = (left + width + right) * size, inputRowBytes = width * size
        let planes = x.shape.dropLast(2).reduce(1, *)   // the output is not empty, so this product fits
        // A row of fill values, from which every margin is copied.
        let fillRow = UnsafeMutableRawPointer.allocate(byteCount: rowBytes, alignment: 16)
        defer { fillRow.deallocate() }
        for j in 0..<(left + width + right) { (fillRow + j * size).copyMemory(from: fill.storage.bytes, byteCount: size) }
        var target = out.storage.bytes
        var source = UnsafeRawPointer(x.storage.bytes)
        for _ in 0..<planes {
            for _ in 0..<top {
                target.copyMemory(from: fillRow, byteCount: rowBytes)
                target += rowBytes
            }
            for _ in 0..<height {
                if left > 0 { target.copyMemory(from: fillRow, byteCount: left * size) }
                (target + left * size).copyMemory(from: source, byteCount: inputRowBytes)
                if right > 0 { (target + left * size + inputRowBytes).copyMemory(from: fillRow, byteCount: right * size) }
                target += rowBytes
                source += inputRowBytes
            }
            for _ in 0..<bottom {
                target.copyMemory(from: fillRow, byteCount: rowBytes)
                target += rowBytes
            }
        }
    }
}
