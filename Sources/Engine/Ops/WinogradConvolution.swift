import CKernels

/// A 3×3 or 5×5 convolution's constant filters transformed for Winograd F(2×2, 3×3) or F(2×2, 5×5)
/// (CKernels/winograd.c): (r + 1)² GEMMs of the transformed filters against the transformed input tiles take the place
/// of the direct kernel's 4r² multiply-adds per 2×2 block of outputs — 36 → 16 (2.25× fewer) for 3×3, 100 → 36 (2.8×)
/// for 5×5 — less what the transforms and the padding of partial tiles cost.
///
/// Measured against the direct kernel on the same call (C harness, interleaved, one thread): ResNet's 64 → 64 at 56×56
/// 0.74–0.86× its time, 128 → 128 at 28×28 0.66–0.68×, 256 → 256 at 14×14 0.57–0.61×, 256 → 256 at 10×10 0.87×,
/// 512 → 512 at 7×7 0.59–0.60× (two rows of 4 tiles to a group); at 5×5 1.24× and 4×4 1.35× (most of a tile is padding
/// there), so maps that small stay on the direct kernel. With 32 output channels (DenseNet's
/// 128 → 32) it was about even per call (0.91–1.07×) and DenseNet-121 at batch 32 went 1.25× → 1.37× onnxruntime's time,
/// so those layers stay on the direct kernel too.
///
/// 5×5, 32 → 64 (the MNIST CNN's second layer): at 14×14 0.81–0.94× (36 GEMMs of K = 32, 120 µs, and the transforms,
/// 58 µs, against 221 µs), at 28×28 0.89–0.94×; but 1.05–1.08× at 12×12, 1.23–1.29× at 20×20 and 1.13–1.76× at 9×9 and
/// 10×10, where a row's tiles fill only 5 or 6 of 8 lanes (or 10 of 16) and the padding lanes cost 36 positions each.
/// So 5×5 runs here only from 14×14 and when its tiles fill at least 7 lanes in 8 (`minimumLaneUse`).
/// The sums differ from the direct kernel's by rounding only (≤ 3e-6 of the output's magnitude for 3×3, ≤ 5e-6 for 5×5).
final class WinogradFilters: @unchecked Sendable {
    /// Input channels from which the transforms pay for themselves, and output channels from which the GEMMs (Cout
    /// rows each) carry enough of the work to beat the direct kernel: 64, or 32 where the transforms run on AVX-512
    /// (16 tiles per zmm, about half their AVX2 time) or where the CPU splits its 256-bit FMAs in two (AMD Zen 1,
    /// whose direct kernel is bound by FMAs at half the rate). DenseNet's 128 → 32 at 56² went 1.88 → 1.50 ms a layer
    /// with AVX-512, the network 2–4 % at batch 1 and 32; with AVX2 transforms on a CPU of two whole 256-bit FMA pipes
    /// those layers were about even (0.91–1.07×); on Zen 1 (AVX2) DenseNet-121 went to 0.88× its time at batch 1 and
    /// 0.90× at 32 (interleaved runs).
    static let minimumChannels = 32
    static var minimumOutChannels: Int {
        String(cString: ds_kernel_isa()) == "avx512f" || ds_cpu_splits_256bit_fma() != 0 ? 32 : 64
    }
    /// Most transformed filter values, (r + 1)² per filter and input channel: they are kept beside the direct kernel's
    /// packing (r² values), and past this one layer's would pass 16 MiB (3×3: 512 × 512 channels; 5×5: 340 × 340).
    static let maximumTransformedValues = 16 * 512 * 512
    /// Output rows and columns from which it is used (see above): 3×3 filters, 5×5 ones.
    static let minimumOutputSize = 7
    static let minimumOutputSize5 = 14
    /// For 5×5 filters, the least share of tile slots holding tiles (ds_winograd_lane_use).
    static let minimumLaneUse = 0.875

    let shape: [Int]
    private let storage: TensorStorage

    /// Whether a convolution with filters of `shape` (Cout × Cin × r × r, r 3 or 5), one group, and these strides and
    /// dilations (nil: the defaults, 1) can run as Winograd F(2×2, r×r) on maps large enough.
    static func suits(_ shape: [Int], group: Int, strides: [Int]?, dilations: [Int]?) -> Bool {
        guard shape.count == 4, group == 1, shape[2] == 3 || shape[2] == 5, shape[3] == shape[2] else { return false }
        let positions = (shape[2] + 1) * (shape[2] + 1)
        return shape[0] >= minimumOutChannels && shape[1] >= minimumChannels
            && shape[0] <= maximumTransformedValues / positions / shape[1]
            && (strides ?? [1, 1]) == [1, 1] && (dilations ?? [1, 1]) == [1, 1]
    }

    /// Transforms and packs `weight` (float, a shape `suits` accepts).
    init(_ weight: Tensor) {
        shape = weight.shape
        let (outChannels, channels, kernel) = (weight.shape[0], weight.shape[1], weight.shape[2])
        storage = TensorStorage(byteCount: ds_winograd_packed_size(outChannels, channels, kernel) * MemoryLayout<Float>.size)
        ds_winograd_pack(weight.pointer(as: Float.self), outChannels, channels, kernel,
                         storage.bytes.assumingMemoryBound(to: Float.self))
    }

    /// Whether a call of this geometry runs here rather than on the direct kernel: AVX2 present, and a map at least
    /// `minimumOutputSize` on each side (5×5: `minimumOutputSize5`, its tiles filling `minimumLaneUse` of the lanes).
    func suits(_ shape: ds_conv2d_shape) -> Bool {
        var shape = shape
        guard ds_winograd_suits(&shape) != 0 else { return false }
        if shape.kernel_h == 5 {
            return shape.out_h >= Self.minimumOutputSize5 && shape.out_w >= Self.minimumOutputSize5
                && ds_winograd_lane_use(&shape) >= Self.minimumLaneUse
        }
        return shape.out_h >= Self.minimumOutputSize && shape.out_w >= Self.minimumOutputSize
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
