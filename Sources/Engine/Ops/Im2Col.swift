/// Unfolding (im2col) over any number of spatial dimensions, for the convolutions the C kernel's
/// 2-d `ds_im2col` does not cover (3-d float Conv, the integer convolutions).
enum Im2Col {
    /// Writes the columns of output pixels `pixels` (flat, row-major over `g.output`) for the
    /// `channels` planes of `image` ([channels, spatial…]): row `c · K + k` (K the kernel's element
    /// count, k row-major over the kernel) holds, for each pixel, the input under tap k of channel
    /// c, or `padding` outside the image. Rows are `ld` apart.
    static func unfold<T>(_ image: UnsafePointer<T>, channels: Int, spatial: [Int], _ g: SpatialWindow.Resolved,
                          pixels: Range<Int>, padding: T, into columns: UnsafeMutablePointer<T>, ld: Int) {
        let rank = spatial.count
        let kernelCount = g.kernel.reduce(1, *)
        let planeSize = spatial.reduce(1, *)
        let inStrides = contiguousStrides(spatial)
        var tap = [Int](repeating: 0, count: rank)
        var position = [Int](repeating: 0, count: rank)
        for k in 0..<kernelCount {
            var rest = k
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                tap[axis] = rest % g.kernel[axis]
                rest /= g.kernel[axis]
            }
            // Output position of the first pixel.
            rest = pixels.lowerBound
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                position[axis] = rest % g.output[axis]
                rest /= g.output[axis]
            }
            for p in 0..<pixels.count {
                var offset = 0, inside = true
                for axis in 0..<rank {
                    let coordinate = position[axis] * g.strides[axis] - g.padBegin[axis] + tap[axis] * g.dilations[axis]
                    if coordinate < 0 || coordinate >= spatial[axis] { inside = false; break }
                    offset += coordinate * inStrides[axis]
                }
                for c in 0..<channels {
                    columns[(c * kernelCount + k) * ld + p] = inside ? image[c * planeSize + offset] : padding
                }
                var axis = rank - 1
                while axis >= 0 {
                    position[axis] += 1
                    if position[axis] < g.output[axis] { break }
                    position[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
