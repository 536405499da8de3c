import CKernels

/// A 3×3 convolution's constant filters transformed for Winograd F(2×2, 3×3) (CKernels/winograd.c): 16 GEMMs of the
/// transformed filters against the transformed input tiles take the place of the direct kernel's 36 multiply-adds per
/// 2×2 block of outputs with 16, which is 2.25× fewer, less what the transforms and the padding of partial tiles cost.
///
/// Measured against the direct kernel on the same call (C harness, interleaved, one thread): ResNet's 64 → 64 at 56×56
/// 0.74–0.86× its time, 128 → 128 at 28×28 0.66–0.68×, 256 → 256 at 14×14 0.57–0.61×, 256 → 256 at 10×10 0.87×,
/// 512 → 512 at 7×7 0.59–0.60× (two rows of 4 tiles to a group); at 5×5 1.24× and 4×4 1.35× (most of a tile is padding
/// there), so maps that small stay on the direct kernel. With 32 output channels (DenseNet's
/// 128 → 32) it was about even per call (0.91–1.07×) and DenseNet-121 at batch 32 went 1.25× → 1.37× onnxruntime's time,
/// so those layers stay on the direct kernel too.
/// The sums differ from the direct kernel's by rounding only (≤ 3e-6 of the output's magnitude there).
final class WinogradFilters: @unchecked Sendable {
    /// Input channels from which the transforms pay for themselves, and output channels from which the GEMMs (Cout
    /// rows each) carry enough of the work to beat the direct kernel.
    static let minimumChannels = 32
    static let minimumOutChannels = 64
    /// Most input × output channels: the transformed filters are kept beside the direct kernel's packing (16 floats
    /// per filter and channel against 9), and beyond 512 × 512 one layer's would pass 16 MiB.
    static let maximumChannelProduct = 512 * 512
    /// Output rows and columns from which it is used (see above).
    static let minimumOutputSize = 7

    let shape: [Int]
    private let storage: TensorStorage

    /// Whether a convolution with filters of `shape` (Cout × Cin × 3 × 3), one group, and these strides and
    /// dilations (nil: the defaults, 1) can run as Winograd F(2×2, 3×3) on maps large enough.
    static func suits(_ shape: [Int], group: Int, strides: [Int]?, dilations: [Int]?) -> Bool {
        shape.count == 4 && group == 1 && shape[2] == 3 && shape[3] == 3
            && shape[0] >= minimumOutChannels && shape[1] >= minimumChannels
            && shape[0] <= maximumChannelProduct / shape[1]
            && (strides ?? [1, 1]) == [1, 1] && (dilations ?? [1, 1]) == [1, 1]
    }

    /// Transforms and packs `weight` (float, a shape `suits` accepts).
    init(_ weight: Tensor) {
        shape = weight.shape
        let (outChannels, channels) = (weight.shape[0], weight.shape[1])
        storage = TensorStorage(byteCount: ds_winograd_packed_size(outChannels, channels) * MemoryLayout<Float>.size)
        ds_winograd_pack(weight.pointer(as: Float.self), outChannels, channels, storage.bytes.assumingMemoryBound(to: Float.self))
    }

    /// Whether a call of this geometry runs here rather than on the direct kernel: AVX2 present, and a map at least
    /// `minimumOutputSize` on each side.
    func suits(_ shape: ds_conv2d_shape) -> Bool {
        var shape = shape
        return shape.out_h >= Self.minimumOutputSize && shape.out_w >= Self.minimumOutputSize && ds_winograd_suits(&shape) != 0
    }

    /// Convolves `batch` NCHW images (`shape.channels` channels) into y (Cout channels); with `accumulate`, y holds a
    /// residual the convolution adds onto.
    func convolve(_ x: UnsafePointer<Float>, batch: Int, shape: ds_conv2d_shape, bias: UnsafePointer<Float>?,
                  accumulate: Bool, activation: ds_activation, into y: UnsafeMutablePointer<Float>,
                  _ workspace: Workspace) throws {
        var shape = shape
        let outChannels = self.shape[0]
        let imageSize = shape.channels * shape.height * shape.width, outputSize = outChannels * shape.out_h * shape.out_w
        var scratch = try workspace.allocate(.float, [ds_winograd_scratch_size(&shape, outChannels)])
        defer { workspace.recycle(&scratch) }
        let packed = storage.bytes.assumingMemoryBound(to: Float.self)
        // An image at a time, so a deadline or cancellation is noticed between them.
        for n in 0..<batch {
            try workspace.checkpoint()
            ds_winograd_conv2d(&shape, 1, x + n * imageSize, imageSize, packed, outChannels, bias, accumulate ? 1 : 0,
                               activation, y + n * outputSize, outputSize, scratch.pointer(as: Float.self))
        }
    }
}
