/// The shapes of a numpy-style matrix product, shared by MatMul and MatMulInteger: vectors are promoted
/// (A [K] → [1, K], B [K] → [K, 1], the added axis dropped from the result) and batch dimensions broadcast.
struct MatMulShape {
    let m: Int, k: Int, n: Int
    /// Batch dimensions of A, of B, and broadcast together.
    let aBatch: [Int], bBatch: [Int], batch: [Int]
    /// The output as computed, [batch…, m, n].
    var computed: [Int] { batch + [m, n] }
    /// The output as returned: without the axes vector promotion added.
    let result: [Int]

    init(_ a: Tensor, _ b: Tensor) throws {
        guard a.rank >= 1, b.rank >= 1 else { throw KernelError("operands must have rank ≥ 1, got \(a.shape) and \(b.shape)") }
        let aShape = a.rank == 1 ? [1, a.shape[0]] : a.shape
        let bShape = b.rank == 1 ? [b.shape[0], 1] : b.shape
        m = aShape[aShape.count - 2]
        k = aShape[aShape.count - 1]
        n = bShape[bShape.count - 1]
        guard k == bShape[bShape.count - 2] else { throw KernelError("inner dimensions differ: \(a.shape) × \(b.shape)") }
        aBatch = Array(aShape.dropLast(2))
        bBatch = Array(bShape.dropLast(2))
        batch = try Broadcast.shape([aBatch, bBatch])
        var result = batch + [m, n]
        if a.rank == 1 { result.remove(at: result.count - 2) }
        if b.rank == 1 { result.removeLast() }
        self.result = result
    }
}
