/// Index helpers shared by the ops that read positions from tensor data (GatherElements, GatherND,
/// ScatterElements, ScatterND, OneHot): every index a model or request supplies is checked here.

/// `raw` as a position along a dimension of size `dim`: negative values count from the end.
/// Throws for anything outside `-dim..<dim`.
func checkedIndex(_ raw: Int64, dim: Int, role: String) throws -> Int {
    let index = raw < 0 ? Int(clamping: raw) &+ dim : Int(clamping: raw)
    guard index >= 0, index < dim else { throw KernelError("\(role) \(raw) is out of range for a dimension of size \(dim)") }
    return index
}

/// Copies one element of `size` bytes.
@inline(__always)
func copyElement(_ source: UnsafeRawPointer, _ sourceIndex: Int, _ target: UnsafeMutableRawPointer, _ targetIndex: Int, size: Int) {
    (target + targetIndex * size).copyMemory(from: source + sourceIndex * size, byteCount: size)
}

/// Steps a row-major coordinate through `shape` (the last axis fastest). Callers make sure the
/// shape is not empty before stepping.
struct CoordinateCounter {
    let shape: [Int]
    private(set) var coordinate: [Int]

    init(_ shape: [Int]) {
        self.shape = shape
        coordinate = [Int](repeating: 0, count: shape.count)
    }

    mutating func advance() {
        var axis = shape.count - 1
        while axis >= 0 {
            coordinate[axis] += 1
            if coordinate[axis] < shape[axis] { return }
            coordinate[axis] = 0
            axis -= 1
        }
    }
}
