/// An 8-bit raster: `height` rows of `width` pixels, each `channels` interleaved samples, row-major.
///
/// Channels: 1 = gray, 2 = gray + alpha, 3 = RGB, 4 = RGBA. Alpha is straight (not premultiplied).
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public let channels: Int
    /// `width * height * channels` samples.
    public var pixels: [UInt8]

    /// Wraps pixels as they are; the count must be `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "image dimensions must be positive, got \(width)x\(height)")
        precondition((1...4).contains(channels), "channels must be 1...4, got \(channels)")
        precondition(pixels.count == width * height * channels,
                     "\(width)x\(height)x\(channels) needs \(width * height * channels) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// An image with every sample set to `value`.
    public init(width: Int, height: Int, channels: Int, fill value: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: value, count: width * height * channels))
    }

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// The samples of the pixel at (x, y).
    public subscript(x: Int, y: Int) -> ArraySlice<UInt8> {
        let start = (y * width + x) * channels
        return pixels[start..<start + channels]
    }
}

// MARK: - Colour conversions

extension Image {
    /// ITU-R BT.601 luma, Y = 0.299 R + 0.587 G + 0.114 B, in the same 16-bit fixed point as PIL's
    /// `convert("L")`, so the two agree exactly.
    @inline(__always)
    static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
        let sum: Int = Int(r) * 19595 + Int(g) * 38470 + Int(b) * 7471 + 0x8000
        return UInt8(truncatingIfNeeded: sum >> 16)
    }

    /// `value` seen through `alpha` over `background`, rounded.
    @inline(__always)
    static func composite(_ value: UInt8, alpha: UInt8, over background: UInt8) -> UInt8 {
        let a = Int(alpha)
        let sum: Int = Int(value) * a + Int(background) * (255 - a) + 127
        return UInt8(sum / 255)
    }

    /// One gray channel: colour becomes BT.601 luma, and alpha is composited over `background`.
    ///
    /// The background defaults to white (255), as image viewers show a transparent image on a page; a model
    /// trained on white-on-black digits fed a transparent canvas with white strokes wants `background: 0`.
    public func grayscale(background: UInt8 = 255) -> Image {
        if channels == 1 { return self }
        var out = [UInt8](repeating: 0, count: width * height)
        let n = width * height
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                switch channels {
                case 2:
                    for i in 0..<n { dst[i] = Self.composite(src[2 * i], alpha: src[2 * i + 1], over: background) }
                case 3:
                    for i in 0..<n { dst[i] = Self.luma(src[3 * i], src[3 * i + 1], src[3 * i + 2]) }
                default:
                    for i in 0..<n {
                        let a = src[4 * i + 3]
                        dst[i] = Self.composite(Self.luma(src[4 * i], src[4 * i + 1], src[4 * i + 2]), alpha: a,
                                                over: background)
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: 1, pixels: out)
    }

    /// Three RGB channels: gray is replicated, and alpha is composited over `background` (default white, as in
    /// `grayscale(background:)`).
    public func rgb(background: UInt8 = 255) -> Image {
        if channels == 3 { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * 3)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n {
                    switch channels {
                    case 1:
                        let v = src[i]
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    case 2:
                        let v = Self.composite(src[2 * i], alpha: src[2 * i + 1], over: background)
                        dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v
                    default:
                        let a = src[4 * i + 3]
                        for c in 0..<3 { dst[3 * i + c] = Self.composite(src[4 * i + c], alpha: a, over: background) }
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: 3, pixels: out)
    }

    /// Four RGBA channels (opaque where the source has no alpha).
    public func rgba() -> Image {
        if channels == 4 { return self }
        let n = width * height
        var out = [UInt8](repeating: 255, count: n * 4)
        for i in 0..<n {
            switch channels {
            case 1: out[4 * i] = pixels[i]; out[4 * i + 1] = pixels[i]; out[4 * i + 2] = pixels[i]
            case 2:
                for c in 0..<3 { out[4 * i + c] = pixels[2 * i] }
                out[4 * i + 3] = pixels[2 * i + 1]
            default: for c in 0..<3 { out[4 * i + c] = pixels[3 * i + c] }
            }
        }
        return Image(width: width, height: height, channels: 4, pixels: out)
    }

    /// Each colour sample p becomes 255 − p; alpha is kept. Turns dark-on-light digits into MNIST's
    /// white-on-black.
    public func inverted() -> Image {
        var out = self
        let alphaChannel = hasAlpha ? channels - 1 : -1
        out.pixels.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count where i % channels != alphaChannel { p[i] = 255 &- p[i] }
        }
        return out
    }

    /// The `width` × `height` rectangle whose top-left corner is (x, y); it must lie inside the image.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        precondition(x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= width && y + h <= height,
                     "crop \(w)x\(h) at (\(x), \(y)) is outside a \(width)x\(height) image")
        var out = [UInt8]()
        out.reserveCapacity(w * h * channels)
        for row in y..<y + h {
            let start = (row * width + x) * channels
            out.append(contentsOf: pixels[start..<start + w * channels])
        }
        return Image(width: w, height: h, channels: channels, pixels: out)
    }
}
