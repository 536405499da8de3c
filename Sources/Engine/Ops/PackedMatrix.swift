import CKernels

/// A constant matrix (a layer's weights) packed once, at load, into the GEMM micro-kernel's panel
/// layout, so runs skip re-packing it. Immutable after init; shared by every thread.
final class PackedMatrix: @unchecked Sendable {
    let rows: Int
    let columns: Int
    private let storage: TensorStorage

    /// Packs `rows × columns` floats starting at `source` (row-major, leading dimension `stride`).
    init(rows: Int, columns: Int, source: UnsafePointer<Float>, stride: Int) {
        self.rows = rows
        self.columns = columns
        storage = TensorStorage(byteCount: ds_sgemm_packed_a_size(rows, columns) * MemoryLayout<Float>.size)
        ds_sgemm_pack_a(0, rows, columns, 1, source, stride, storage.bytes.assumingMemoryBound(to: Float.self))
    }

    /// C[rows × n] = self · B[columns × n] (+ beta·C), then biases and activation.
    func multiply(_ b: UnsafePointer<Float>, n: Int, ldb: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0,
                  rowBias: UnsafePointer<Float>? = nil, activation: ds_activation = Activation.none) {
        ds_sgemm_prepacked(rows, n, columns, storage.bytes.assumingMemoryBound(to: Float.self), 0, b, ldb, beta, c, ldc,
                           rowBias, nil, activation)
    }
}
