import CKernels

/// A 2-d convolution's constant filters packed for the direct kernel (CKernels/direct_conv.c), one panel set per group.
///
/// The direct kernel reads the image in place (or a zero-padded copy) instead of unfolding it, so it skips im2col and
/// the packing of the unfolded matrix that the GEMM path pays on every run. It wins whenever a pixel's window holds
/// enough taps to hide the cost of storing its tile (measured: 0.6–1.0× the GEMM path's time from 27 taps, an RGB
/// 3×3 stem, up; 1.1× at 25). Filters of one input channel per group go to the depthwise kernel (or im2col).
final class DirectConvFilters: @unchecked Sendable {
    /// Taps per output (input channels per group × kernel height × width) from which the direct kernel is used.
    static let minimumTaps = 27

    let shape: [Int]
    let group: Int
    let outChannelsPerGroup: Int
    private let groupStride: Int
    private let storage: TensorStorage

    /// Whether a filter tensor of `shape` (Cout × Cin/g × kh × kw) with `group` groups runs on the direct kernel. Not a
    /// 1×1 filter: the GEMM reads the input in place, or with a stride (ResNet's downsampling) the subsampled image,
    /// and wins (0.6–0.9× the direct kernel's time at 64–1024 input channels, measured).
    static func suits(_ shape: [Int], group: Int) -> Bool {
        guard shape.count == 4 || shape.count == 3, group >= 1, shape[0] % group == 0 else { return false }
        let kernel = shape.dropFirst(2).reduce(1, *)
        return kernel > 1 && shape[1] > 1 && shape[1] * kernel >= minimumTaps
    }

    /// Packs `weight` (float, a shape `suits` accepts).
    convenience init(_ weight: Tensor, group: Int) {
        self.init(weight.pointer(as: Float.self), shape: weight.shape, group: group,
                  outChannelsPerGroup: weight.shape[0] / group, taps: weight.shape.dropFirst().reduce(1, *))
    }

    /// Packs filters laid out [group][outChannelsPerGroup][taps]; `shape` names the weight they came from.
    init(_ source: UnsafePointer<Float>, shape: [Int], group: Int, outChannelsPerGroup: Int, taps: Int) {
        self.shape = shape
        self.group = group
        self.outChannelsPerGroup = outChannelsPerGroup
        groupStride = ds_conv2d_direct_packed_size(outChannelsPerGroup, taps)
        storage = TensorStorage(byteCount: groupStride * group * MemoryLayout<Float>.size)
        let packed = storage.bytes.assumingMemoryBound(to: Float.self)
        for g in 0..<group {
            ds_conv2d_direct_pack(source + g * outChannelsPerGroup * taps, outChannelsPerGroup, taps, packed + g * groupStride)
        }
    }

    /// Convolves `batch` NCHW images: x holds `group` runs of `shape.channels` channels, y `group` runs of
    /// outChannelsPerGroup. With `accumulate`, y holds a residual the convolution adds onto.
    func convolve(_ x: UnsafePointer<Float>, batch: Int, shape: ds_conv2d_shape, bias: UnsafePointer<Float>?,
                  accumulate: Bool, activation: ds_activation, into y: UnsafeMutablePointer<Float>,
                  _ workspace: Workspace) throws {
        var shape = shape
        let planeSize = shape.height * shape.width, pixels = shape.out_h * shape.out_w
        let imageSize = group * shape.channels * planeSize, outputSize = group * outChannelsPerGroup * pixels
        // Large maps go an image at a time, so a deadline or cancellation is noticed between them.
        let imagesPerCall = pixels >= 256 ? 1 : batch
        var scratch = try workspace.allocate(.float, [ds_conv2d_direct_scratch_size(&shape, imagesPerCall)])
        defer { workspace.recycle(&scratch) }
        let packed = storage.bytes.assumingMemoryBound(to: Float.self)
        for first in stride(from: 0, to: batch, by: imagesPerCall) {
            try workspace.checkpoint()
            let images = min(imagesPerCall, batch - first)
            for g in 0..<group {
                ds_conv2d_direct(&shape, images, x + first * imageSize + g * shape.channels * planeSize, imageSize,
                                 packed + g * groupStride, outChannelsPerGroup, bias.map { $0 + g * outChannelsPerGroup },
                                 accumulate ? 1 : 0, activation,
                                 y + first * outputSize + g * outChannelsPerGroup * pixels, outputSize,
                                 scratch.pointer(as: Float.self))
            }
        }
    }
}
