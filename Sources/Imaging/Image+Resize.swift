import Foundation

/// How `resized` computes a pixel from its neighbourhood.
public enum ResizeFilter: String, Sendable, Equatable, CaseIterable {
    /// The source pixel whose centre is nearest (`floor((x + 0.5) * scale)`), as PIL's NEAREST.
    case nearest
    /// Bilinear interpolation when enlarging; when shrinking, the triangle widens with the shrink factor so every
    /// source pixel under the output pixel is averaged in (area-weighted), so a 1000×1000 photo shrinks cleanly to
    /// 28×28 without aliasing. The same convolution, fixed-point arithmetic and rounding as PIL's BILINEAR, so
    /// the two agree exactly.
    case bilinear
    /// Area averaging: each output pixel is the mean of the source area it covers (PIL's BOX).
    case area
}

/// How an image of another aspect ratio is brought to the target size.
public enum AspectMode: Sendable, Equatable {
    /// Scale each axis on its own; the picture is distorted.
    case stretch
    /// Scale to fit inside the target keeping the aspect ratio, centred, the borders filled with `pad` (alpha, if
    /// any, stays opaque). Letterboxing.
    case fit(pad: UInt8)
    /// Scale to cover the target keeping the aspect ratio, cutting off what overhangs (a centre crop).
    case fill
}

extension Image {
    /// The image resampled to `width` × `height` (same channels). Alpha is resampled like any channel (not
    /// premultiplied); flatten it with `grayscale()` or `rgb()` first where edges matter.
    public func resized(width newWidth: Int, height newHeight: Int, filter: ResizeFilter = .bilinear) -> Image {
        precondition(newWidth > 0 && newHeight > 0, "resize target must be positive, got \(newWidth)x\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        if filter == .nearest { return nearest(newWidth, newHeight) }
        var image = self
        if newWidth != width { image = image.convolved(horizontally: true, to: newWidth, filter: filter) }
        if newHeight != height { image = image.convolved(horizontally: false, to: newHeight, filter: filter) }
        return image
    }

    /// The image brought to `width` × `height`, its aspect ratio handled as `aspect` says.
    public func resized(width newWidth: Int, height newHeight: Int, filter: ResizeFilter = .bilinear,
                        aspect: AspectMode) -> Image {
        switch aspect {
        case .stretch:
            return resized(width: newWidth, height: newHeight, filter: filter)
        case .fill:
            // Crop the source to the target's aspect ratio (centred), then scale.
            let target = Double(newWidth) / Double(newHeight)
            var source = self
            if Double(width) / Double(height) > target {
                let cropWidth = min(width, max(1, Int((Double(height) * target).rounded())))
                source = cropped(x: (width - cropWidth) / 2, y: 0, width: cropWidth, height: height)
            } else {
                let cropHeight = min(height, max(1, Int((Double(width) / target).rounded())))
                source = cropped(x: 0, y: (height - cropHeight) / 2, width: width, height: cropHeight)
            }
            return source.resized(width: newWidth, height: newHeight, filter: filter)
        case .fit(let pad):
            let scale = min(Double(newWidth) / Double(width), Double(newHeight) / Double(height))
            let innerWidth = min(newWidth, max(1, Int((Double(width) * scale).rounded())))
            let innerHeight = min(newHeight, max(1, Int((Double(height) * scale).rounded())))
            let inner = resized(width: innerWidth, height: innerHeight, filter: filter)
            var canvas = Image(width: newWidth, height: newHeight, channels: channels, fill: pad)
            if hasAlpha {
                for i in stride(from: channels - 1, to: canvas.pixels.count, by: channels) { canvas.pixels[i] = 255 }
            }
            let x0 = (newWidth - innerWidth) / 2, y0 = (newHeight - innerHeight) / 2
            for y in 0..<innerHeight {
                let from = y * innerWidth * channels
                let to = ((y0 + y) * newWidth + x0) * channels
                canvas.pixels.replaceSubrange(to..<to + innerWidth * channels,
                                              with: inner.pixels[from..<from + innerWidth * channels])
            }
            return canvas
        }
    }

    private func nearest(_ newWidth: Int, _ newHeight: Int) -> Image {
        let xs = (0..<newWidth).map { min(width - 1, Int((Double($0) + 0.5) * Double(width) / Double(newWidth))) }
        let ys = (0..<newHeight).map { min(height - 1, Int((Double($0) + 0.5) * Double(height) / Double(newHeight))) }
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        var o = 0
        for y in ys {
            for x in xs {
                let s = (y * width + x) * channels
                for c in 0..<channels { out[o + c] = pixels[s + c] }
                o += channels
            }
        }
        return Image(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }

    /// Fixed-point weights of one output sample: the first source index and the weights from there.
    private struct Taps {
        var start: Int
        var weights: [Int]
    }

    /// PIL's `precompute_coeffs` and `normalize_coeffs_8bpc` (Resample.c).
    private static let precisionBits = 32 - 8 - 2

    private static func taps(inSize: Int, outSize: Int, filter: ResizeFilter) -> [Taps] {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let baseSupport = filter == .area ? 0.5 : 1.0
        let support = baseSupport * filterScale
        func kernel(_ x: Double) -> Double {
            switch filter {
            case .area: return x > -0.5 && x <= 0.5 ? 1 : 0
            default: let a = abs(x); return a < 1 ? 1 - a : 0
            }
        }
        return (0..<outSize).map { i in
            let center = (Double(i) + 0.5) * scale
            let low = max(Int(center - support + 0.5), 0)  // Int() truncates toward zero, as C's (int)
            let high = min(Int(center + support + 0.5), inSize)
            let reciprocal = 1 / filterScale
            var weights = (low..<high).map { kernel((Double($0) - center + 0.5) * reciprocal) }
            let total = weights.reduce(0, +)
            if total != 0 { weights = weights.map { $0 / total } }
            let one = Double(1 << precisionBits)
            return Taps(start: low, weights: weights.map { w in Int(w < 0 ? (-0.5 + w * one).rounded(.towardZero)
                                                                            : (0.5 + w * one).rounded(.towardZero)) })
        }
    }

    /// One separable pass along rows (`horizontally`) or columns, rounding to 8 bits as PIL does between passes.
    private func convolved(horizontally: Bool, to size: Int, filter: ResizeFilter) -> Image {
        let inSize = horizontally ? width : height
        let taps = Self.taps(inSize: inSize, outSize: size, filter: filter)
        let newWidth = horizontally ? size : width, newHeight = horizontally ? height : size
        var out = [UInt8](repeating: 0, count: newWidth * newHeight * channels)
        let bits = Self.precisionBits
        let half = 1 << (bits - 1), ceiling = 1 << (bits + 8)
        // Distance, in samples, between neighbours along the axis, and between lines across it.
        let along = horizontally ? channels : width * channels
        let across = horizontally ? width * channels : channels
        let lines = horizontally ? height : width
        let outAlong = horizontally ? channels : newWidth * channels
        let outAcross = horizontally ? newWidth * channels : channels
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for line in 0..<lines {
                    for (i, tap) in taps.enumerated() {
                        for c in 0..<channels {
                            var sum = half
                            var s = line * across + tap.start * along + c
                            for w in tap.weights {
                                sum += Int(src[s]) * w
                                s += along
                            }
                            let value: UInt8 = sum >= ceiling ? 255 : (sum <= 0 ? 0 : UInt8(sum >> bits))
                            dst[line * outAcross + i * outAlong + c] = value
                        }
                    }
                }
            }
        }
        return Image(width: newWidth, height: newHeight, channels: channels, pixels: out)
    }
}
