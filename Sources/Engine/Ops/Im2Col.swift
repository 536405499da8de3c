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

extension Im2Col {
    /// The adjoint of `unfold` (col2im), for ConvTranspose: adds column entry `(c · K + k, p)` —
    /// input pixel p (row-major over `input`) under tap k — to output channel c at
    /// `p · stride − padBegin + k · dilation`, where that falls inside `output`. Rows are `ld` apart.
    static func foldAdding(_ columns: UnsafePointer<Float>, channels: Int, input: [Int], output: [Int], kernel: [Int],
                           strides: [Int], dilations: [Int], padBegin: [Int],
                           into image: UnsafeMutablePointer<Float>, ld: Int) {
        let rank = input.count
        let kernelCount = kernel.reduce(1, *), pixels = input.reduce(1, *), planeSize = output.reduce(1, *)
        let outStrides = contiguousStrides(output)
        var tap = [Int](repeating: 0, count: rank)
        var position = [Int](repeating: 0, count: rank)
        for k in 0..<kernelCount {
            var rest = k
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                tap[axis] = rest % kernel[axis]
                rest /= kernel[axis]
            }
            for axis in 0..<rank { position[axis] = 0 }
            for p in 0..<pixels {
                var offset = 0, inside = true
                for axis in 0..<rank {
                    let coordinate = position[axis] * strides[axis] - padBegin[axis] + tap[axis] * dilations[axis]
                    if coordinate < 0 || coordinate >= output[axis] { inside = false; break }
                    offset += coordinate * outStrides[axis]
                }
                if inside {
                    for c in 0..<channels { image[c * planeSize + offset] += columns[(c * kernelCount + k) * ld + p] }
                }
                var axis = rank - 1
                while axis >= 0 {
                    position[axis] += 1
                    if position[axis] < input[axis] { break }
                    position[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
