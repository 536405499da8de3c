import Engine

extension ModelInterface.Layout {
    /// `count` images, each CHW (what `ImagePreprocessing` makes), as the model's input tensor in this layout.
    func tensor(_ chw: [Float], count: Int, channels: Int, height: Int, width: Int) -> Tensor {
        switch self {
        case .nchw:
            return Tensor(shape: [count, channels, height, width], floats: chw)
        case .nhwc:
            return Tensor(shape: [count, height, width, channels], floats: Self.transpose(chw, count, channels, height * width, toChannelsLast: true))
        }
    }

    /// A model's image output in this layout, as CHW planes per image (what `Image(tensor:)` reads).
    func channelsFirst(_ values: [Float], count: Int, channels: Int, pixels: Int) -> [Float] {
        self == .nchw ? values : Self.transpose(values, count, channels, pixels, toChannelsLast: false)
    }

    /// The (height, width, channels) of an image output of shape `shape` in this layout, if it is one.
    func imageDimensions(_ shape: [Int]) -> (channels: Int, height: Int, width: Int)? {
        guard shape.count == 4 else { return nil }
        return self == .nchw ? (shape[1], shape[2], shape[3]) : (shape[3], shape[1], shape[2])
    }

    /// Per image: [C, P] ↔ [P, C].
    private static func transpose(_ values: [Float], _ count: Int, _ channels: Int, _ pixels: Int, toChannelsLast: Bool) -> [Float] {
        var result = [Float](repeating: 0, count: values.count)
        let size = channels * pixels
        guard size > 0, values.count == count * size else { return values }
        for n in 0..<count {
            let base = n * size
            for c in 0..<channels {
                for p in 0..<pixels {
                    if toChannelsLast {
                        result[base + p * channels + c] = values[base + c * pixels + p]
                    } else {
                        result[base + c * pixels + p] = values[base + p * channels + c]
                    }
                }
            }
        }
        return result
    }
}
