import Foundation

/// How an image becomes a model's input tensor — the `preprocessing` object of a model's config.json
/// (models/README.md), applied in its order: decode → grayscale/RGB → resize → invert → scale → normalise.
public struct ImagePreprocessing: Sendable, Equatable {
    /// The largest side a model's input image may have (a config saying more is refused at load, not at a request).
    public static let maxSide = 16384

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
}

extension ImagePreprocessing: Decodable {
    enum CodingKeys: String, CodingKey {
        case width, height, channels, color, resize, aspect, pad, invert, scale, mean, std, background
    }

    /// Reads config.json's `preprocessing`: `width`, `height`, `channels` (or `color`: "grayscale" / "rgb"),
    /// `resize` ("bilinear", "nearest", "area"), `aspect` ("stretch", "fit", "fill"; default stretch) with `pad`
    /// (0–255, for fit; default 0), `invert` (only `true` inverts here; `"auto"` is the serving layer's, per image),
    /// `scale`, `mean`, `std`, `background` (0–255, default 255). Other keys (`layout`, `polarity`) are ignored.
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
        guard (1...Self.maxSide).contains(width), (1...Self.maxSide).contains(height) else {
            throw bad(.width, "size \(width)x\(height) must be 1...\(Self.maxSide) on each side")
        }
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
                  invert: (try? c.decodeIfPresent(Bool.self, forKey: .invert)) ?? false,
                  scale: try c.decodeIfPresent(Float.self, forKey: .scale) ?? 1.0 / 255.0,
                  mean: mean, std: std,
                  background: try c.decodeIfPresent(UInt8.self, forKey: .background) ?? 255)
    }
}
