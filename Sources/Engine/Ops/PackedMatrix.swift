import CKernels

/// A constant matrix (a layer's weights) packed once, at load, into the GEMM micro-kernel's panel
/// layout, so runs skip re-packing it. Immutable after init; shared by every thread.
///
/// A matrix is packed for one side of the product: `left` (the A of C = A·B, as Conv's filters)
/// or `right` (the B, as a dense layer's weights against a batch of rows).
final class PackedMatrix: @unchecked Sendable {
    enum Side { case left, right }

    let side: Side
    /// The packed operand's shape: rows × columns of A, or k × n of op(B).
    let rows: Int
    let columns: Int
    private let storage: TensorStorage
    private var packed: UnsafeMutablePointer<Float> { storage.bytes.assumingMemoryBound(to: Float.self) }

    /// Packs A (`rows × columns`; stored row-major with leading dimension `stride`, or as its
    /// transpose when `transposed`) as the left operand.
    init(left source: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int, transposed: Bool = false) {
        side = .left
        self.rows = rows
        self.columns = columns
        storage = TensorStorage(byteCount: ds_sgemm_packed_a_size(rows, columns) * MemoryLayout<Float>.size)
        ds_sgemm_pack_a(transposed ? 1 : 0, rows, columns, 1, source, stride, packed)
    }

    /// Packs op(B) (`k × n`; B is stored n × k when `transposed`) as the right operand.
    init(right source: UnsafePointer<Float>, k: Int, n: Int, stride: Int, transposed: Bool) {
        side = .right
        rows = k
        columns = n
        storage = TensorStorage(byteCount: ds_sgemm_packed_b_size(k, n) * MemoryLayout<Float>.size)
        ds_sgemm_pack_b(transposed ? 1 : 0, k, n, source, stride, packed)
    }

    /// C[rows × n] = self · B[columns × n] (+ beta·C), then row bias and activation.
    func multiply(_ b: UnsafePointer<Float>, n: Int, ldb: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0,
                  rowBias: UnsafePointer<Float>? = nil, activation: ds_activation = Activation.none) {
        precondition(side == .left)
        ds_sgemm_prepacked(rows, n, columns, packed, 0, b, ldb, beta, c, ldc, rowBias, nil, activation)
    }

    /// C[m × columns] = alpha · op(A)[m × rows] · self (+ beta·C), then biases and activation.
    func multiply(left a: UnsafePointer<Float>, m: Int, lda: Int, transposed: Bool = false, alpha: Float = 1,
                  into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0, rowBias: UnsafePointer<Float>? = nil,
                  colBias: UnsafePointer<Float>? = nil, activation: ds_activation = Activation.none) {
        precondition(side == .right)
        ds_sgemm_prepacked_b(transposed ? 1 : 0, m, columns, rows, alpha, a, lda, packed, beta, c, ldc, rowBias, colBias, activation)
    }
}
