import Foundation

/// The range of a model's image output, and so how its values become 0...255 pixels.
public enum PixelRange: String, Sendable, Equatable {
    /// [0, 1] (a sigmoid output): pixel = x · 255.
    case unit
    /// [−1, 1] (a tanh output): pixel = (x + 1) · 127.5.
    case signed
}

extension Image {
    /// The samples as floats, channel-major (CHW, one image of an NCHW batch):
    /// `x = (p' · scale − mean[c]) / std[c]`, where p' = 255 − p if `invert`, else p. `mean` and `std` hold one
    /// value per channel, or one for all. Alpha, if any, is a channel like the others.
    public func tensor(scale: Float = 1.0 / 255.0, mean: [Float] = [0], std: [Float] = [1], invert: Bool = false)
        -> [Float]
    {
        precondition(mean.count == 1 || mean.count == channels, "mean needs 1 or \(channels) values, got \(mean.count)")
        precondition(std.count == 1 || std.count == channels, "std needs 1 or \(channels) values, got \(std.count)")
        let plane = width * height
        var out = [Float](repeating: 0, count: plane * channels)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    let m = mean.count == 1 ? mean[0] : mean[c]
                    let s = std.count == 1 ? std[0] : std[c]
                    let plane = UnsafeMutableBufferPointer(rebasing: dst[c * plane..<(c + 1) * plane])
                    // The common case on its own, a loop the compiler vectorises (the general one it doesn't).
                    if channels == 1 && !invert {
                        for i in 0..<plane.count { plane[i] = (Float(src[i]) * scale - m) / s }
                        continue
                    }
                    for i in 0..<plane.count {
                        let p = src[i * channels + c]
                        let value = Float(invert ? 255 - p : p) * scale
                        plane[i] = (value - m) / s
                    }
                }
            }
        }
        return out
    }

    /// An image from a model's output: `values` in CHW order (`channels` planes of `width` × `height`), mapped
    /// to pixels as `range` says, clamped to 0...255 and rounded (NaN becomes 0).
    public init(tensor values: [Float], width: Int, height: Int, channels: Int, range: PixelRange = .unit)
        throws(ImageError)
    {
        let plane = width * height
        guard values.count == plane * channels else {
            throw .tensorSize(expected: plane * channels, actual: values.count)
        }
        var pixels = [UInt8](repeating: 0, count: values.count)
        for c in 0..<channels {
            for i in 0..<plane {
                let x = values[c * plane + i]
                let p = range == .unit ? x * 255 : (x + 1) * 127.5
                pixels[i * channels + c] = p.isNaN ? 0 : UInt8(min(255, max(0, p)).rounded())
            }
        }
        self.init(width: width, height: height, channels: channels, pixels: pixels)
    }
}
