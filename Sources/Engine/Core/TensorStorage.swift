/// A 64-byte-aligned block of memory that one or more tensors view.
///
/// Storage is written only by the kernel that allocated it, before the resulting tensor is
/// published; after that it is read-only, which is what makes sharing it across threads safe
/// (weights are read by every worker at once without locks).
final class TensorStorage: @unchecked Sendable {
    let bytes: UnsafeMutableRawPointer
    /// Capacity in bytes (at least what the tensor needs; pooled storage may be larger).
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        // Never allocate zero bytes: a valid pointer keeps empty tensors simple.
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
    }

    deinit { bytes.deallocate() }
}
