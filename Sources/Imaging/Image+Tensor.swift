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
                    for i in 0..<plane {
                        let p = src[i * channels + c]
                        let value = Float(invert ? 255 - p : p) * scale
                        dst[c * plane + i] = (value - m) / s
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

/// How an image becomes a model's input tensor — the `preprocessing` object of a model's config.json
/// (models/README.md), applied in its order: decode → grayscale/RGB → resize → invert → scale → normalise.
public struct ImagePreprocessing: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// 1 (grayscale) or 3 (RGB).
    public var channels: Int
    public var resize: ResizeFilter
    public var aspect: AspectMode
    /// Replace each pixel p by 255 − p before scaling (for dark-on-light images fed to a white-on-black model).
    public var invert: Bool
    public var scale: Float
    /// One value per channel, or one for all.
    public var mean: [Float]
    public var std: [Float]
    /// What transparent pixels are composited over before anything else.
    public var background: UInt8

    public init(width: Int, height: Int, channels: Int, resize: ResizeFilter = .bilinear,
                aspect: AspectMode = .stretch, invert: Bool = false, scale: Float = 1.0 / 255.0,
                mean: [Float] = [0], std: [Float] = [1], background: UInt8 = 255) {
        precondition(channels == 1 || channels == 3, "preprocessing makes 1 or 3 channels, not \(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.resize = resize
        self.aspect = aspect
        self.invert = invert
        self.scale = scale
        self.mean = mean
        self.std = std
        self.background = background
    }

    /// The image as this model's input, CHW (`channels` × `height` × `width` floats; one item of the NCHW batch).
    public func tensor(from image: Image) -> [Float] {
        let colour = channels == 1 ? image.grayscale(background: background) : image.rgb(background: background)
        return colour.resized(width: width, height: height, filter: resize, aspect: aspect)
            .tensor(scale: scale, mean: mean, std: std, invert: invert)
    }

    /// Decodes `data` (PNG, JPEG, PGM, PPM), scaled down in the decoder where it can be, and makes it this model's
    /// input.
    public func tensor(from data: Data, limits: ImageLimits = .default, budget: DecodeBudget? = nil)
        throws(ImageError) -> [Float]
    {
        tensor(from: try Image.decode(data, limits: limits, budget: budget, target: (width, height)))
    }
}

extension ImagePreprocessing: Decodable {
    enum CodingKeys: String, CodingKey {
        case width, height, channels, color, resize, aspect, pad, invert, scale, mean, std, background
    }

    /// Reads config.json's `preprocessing`: `width`, `height`, `channels` (or `color`: "grayscale" / "rgb"),
    /// `resize` ("bilinear", "nearest", "area"), `aspect` ("stretch", "fit", "fill"; default stretch) with `pad`
    /// (0–255, for fit; default 0), `invert`, `scale`, `mean`, `std`, `background` (0–255, default 255). Other keys
    /// (`layout`, `polarity`) are ignored.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func bad(_ key: CodingKeys, _ message: String) -> DecodingError {
            .dataCorruptedError(forKey: key, in: c, debugDescription: message)
        }
        let channels: Int
        if let count = try c.decodeIfPresent(Int.self, forKey: .channels) {
            channels = count
        } else {
            switch try c.decodeIfPresent(String.self, forKey: .color) {
            case "grayscale", "gray", "l": channels = 1
            case "rgb": channels = 3
            case let other: throw bad(.color, "color \(other ?? "missing"); expected \"grayscale\" or \"rgb\"")
            }
        }
        guard channels == 1 || channels == 3 else { throw bad(.channels, "channels \(channels); expected 1 or 3") }
        let width = try c.decode(Int.self, forKey: .width), height = try c.decode(Int.self, forKey: .height)
        guard width > 0, height > 0 else { throw bad(.width, "size \(width)x\(height) must be positive") }
        let resizeName = try c.decodeIfPresent(String.self, forKey: .resize) ?? "bilinear"
        guard let resize = ResizeFilter(rawValue: resizeName) else {
            throw bad(.resize, "resize \"\(resizeName)\"; expected bilinear, nearest or area")
        }
        let pad = try c.decodeIfPresent(UInt8.self, forKey: .pad) ?? 0
        let aspect: AspectMode
        switch try c.decodeIfPresent(String.self, forKey: .aspect) ?? "stretch" {
        case "stretch": aspect = .stretch
        case "fit": aspect = .fit(pad: pad)
        case "fill": aspect = .fill
        case let other: throw bad(.aspect, "aspect \"\(other)\"; expected stretch, fit or fill")
        }
        let mean = try c.decodeIfPresent([Float].self, forKey: .mean) ?? [0]
        let std = try c.decodeIfPresent([Float].self, forKey: .std) ?? [1]
        guard mean.count == 1 || mean.count == channels else { throw bad(.mean, "mean needs 1 or \(channels) values") }
        guard std.count == 1 || std.count == channels else { throw bad(.std, "std needs 1 or \(channels) values") }
        guard !std.contains(0) else { throw bad(.std, "std must not be 0") }
        self.init(width: width, height: height, channels: channels, resize: resize, aspect: aspect,
                  invert: try c.decodeIfPresent(Bool.self, forKey: .invert) ?? false,
                  scale: try c.decodeIfPresent(Float.self, forKey: .scale) ?? 1.0 / 255.0,
                  mean: mean, std: std,
                  background: try c.decodeIfPresent(UInt8.self, forKey: .background) ?? 255)
    }
}
