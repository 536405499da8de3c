/// numpy-style broadcasting: shapes aligned from the right, a dimension of 1 stretches.
enum Broadcast {
    static func shape(_ shapes: [[Int]]) throws -> [Int] {
        let rank = shapes.map(\.count).max() ?? 0
        var result = Array(repeating: 1, count: rank)
        for shape in shapes {
            let offset = rank - shape.count
            for (i, dim) in shape.enumerated() {
                let current = result[offset + i]
                if current == dim || dim == 1 { continue }
                guard current == 1 else {
                    throw KernelError("shapes \(shapes.map { "\($0)" }.joined(separator: " and ")) do not broadcast")
                }
                result[offset + i] = dim
            }
        }
        return result
    }

    /// Calls `body` once per contiguous run of the output, with each input's element offset at
    /// the run's start and its stride along the run (0 where that input is broadcast).
    ///
    /// Adjacent dimensions that broadcast the same way are merged first, so `[N,C,H,W] + [C,1,1]`
    /// runs H·W at a time.
    static func forEachRun(outShape: [Int], inputShapes: [[Int]],
                           _ body: (_ outOffset: Int, _ inputOffsets: UnsafeBufferPointer<Int>,
                                    _ inputStrides: UnsafeBufferPointer<Int>, _ count: Int) -> Void) {
        let total = outShape.reduce(1, *)
        guard total > 0 else { return }
        let rank = outShape.count
        let inputCount = inputShapes.count
        // Per-input element strides over the output's dimensions (0 on broadcast dims).
        var strides = [[Int]](repeating: [Int](repeating: 0, count: rank), count: inputCount)
        for (k, shape) in inputShapes.enumerated() {
            var step = 1
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                let index = axis - (rank - shape.count)
                if index >= 0, shape[index] != 1 {
                    strides[k][axis] = step
                    step *= shape[index]
                }
            }
        }
        // Merge dimension `axis` into the one after it when every input stays contiguous across them.
        var dims: [Int] = []
        var mergedStrides = [[Int]](repeating: [], count: inputCount)
        for axis in 0..<rank where outShape[axis] != 1 {
            if let last = dims.indices.last,
               (0..<inputCount).allSatisfy({ mergedStrides[$0][last] == strides[$0][axis] * outShape[axis] })
            {
                dims[last] *= outShape[axis]
                for k in 0..<inputCount { mergedStrides[k][last] = strides[k][axis] }
                continue
            }
            dims.append(outShape[axis])
            for k in 0..<inputCount { mergedStrides[k].append(strides[k][axis]) }
        }
        if dims.isEmpty {
            dims = [1]
            for k in 0..<inputCount { mergedStrides[k] = [0] }
        }
        let inner = dims.count - 1
        let runLength = dims[inner]
        withUnsafeTemporaryAllocation(of: Int.self, capacity: inputCount * 2 + dims.count) { scratch in
            let offsets = UnsafeMutableBufferPointer(rebasing: scratch[0..<inputCount])
            let innerStrides = UnsafeMutableBufferPointer(rebasing: scratch[inputCount..<(2 * inputCount)])
            let counter = UnsafeMutableBufferPointer(rebasing: scratch[(2 * inputCount)...])
            for k in 0..<inputCount {
                offsets[k] = 0
                innerStrides[k] = mergedStrides[k][inner]
            }
            for i in counter.indices { counter[i] = 0 }
            var outOffset = 0
            while outOffset < total {
                body(outOffset, UnsafeBufferPointer(offsets), UnsafeBufferPointer(innerStrides), runLength)
                outOffset += runLength
                // Advance the odometer over the outer dimensions.
                var axis = inner - 1
                while axis >= 0 {
                    counter[axis] += 1
                    for k in 0..<inputCount { offsets[k] += mergedStrides[k][axis] }
                    if counter[axis] < dims[axis] { break }
                    for k in 0..<inputCount { offsets[k] -= mergedStrides[k][axis] * dims[axis] }
                    counter[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}

/// Normalises a possibly negative axis against a rank, or explains why it is out of range.
///
/// A scalar has no axis, so callers that index the shape with the result must not pass
/// `allowingScalar` (axis 0 of a rank-0 tensor would be read out of range); the ops that treat a
/// scalar as one element along "axis 0" (Softmax, the reductions, LayerNormalization) do.
func normalizedAxis(_ axis: Int, rank: Int, allowingScalar: Bool = false) throws -> Int {
    let value = axis < 0 ? axis + rank : axis
    guard value >= 0, value < (allowingScalar ? max(rank, 1) : rank) else { throw KernelError("axis \(axis) is out of range for rank \(rank)") }
    return value
}

/// Row-major strides of a shape.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = Array(repeating: 1, count: shape.count)
    var step = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = step
        step *= shape[axis]
    }
    return strides
}
