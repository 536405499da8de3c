/// The image formats `Image.decode` recognises by their first bytes.
public enum ImageFormat: String, Sendable, Equatable, CustomStringConvertible {
    case png = "PNG"
    case jpeg = "JPEG"
    /// Netpbm: PGM (P2, P5) and PPM (P3, P6).
    case pnm = "PGM/PPM"

    public var description: String { rawValue }
}

/// Why an image could not be decoded. A serving layer maps `.tooLarge` to 413, `.unsupportedFormat` to 415 and
/// the rest to 400; `description` is a message fit for the client.
public enum ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not PNG, JPEG, PGM or PPM (`prefix`: the first bytes, in hex).
    case unsupportedFormat(prefix: String)
    /// The header declares more pixels than the limits allow; nothing was decoded.
    case tooLarge(width: Int, height: Int, limits: ImageLimits)
    /// The data ends before the image does.
    case truncated(ImageFormat, String)
    /// The data is not a valid image of its format.
    case corrupt(ImageFormat, String)
    /// A valid image using a feature this decoder does not implement (e.g. PBM bitmaps).
    case unsupportedFeature(ImageFormat, String)
    /// A tensor handed to `Image(tensor:...)` does not have `width * height * channels` values.
    case tensorSize(expected: Int, actual: Int)

    public var description: String {
        switch self {
        case .unsupportedFormat(let prefix):
            return "unsupported image format (expected PNG, JPEG, PGM or PPM; data starts with \(prefix))"
        case .tooLarge(let width, let height, let limits):
            return "image is \(width)x\(height); the limit is \(limits.maxWidth)x\(limits.maxHeight) and "
                + "\(limits.maxPixels) pixels"
        case .truncated(let format, let detail):
            return "truncated \(format) image: \(detail)"
        case .corrupt(let format, let detail):
            return "corrupt \(format) image: \(detail)"
        case .unsupportedFeature(let format, let detail):
            return "unsupported \(format) image: \(detail)"
        case .tensorSize(let expected, let actual):
            return "tensor has \(actual) values; the image needs \(expected)"
        }
    }
}

/// How large an image `Image.decode` accepts, checked against the header before any pixel is decoded, so a
/// decompression bomb (a small file declaring a huge image) costs nothing.
public struct ImageLimits: Sendable, Equatable {
    public var maxWidth: Int
    public var maxHeight: Int
    /// Width × height.
    public var maxPixels: Int

    public init(maxWidth: Int = 8192, maxHeight: Int = 8192, maxPixels: Int = 40_000_000) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.maxPixels = maxPixels
    }

    /// 8192 × 8192 and 40 megapixels.
    public static let `default` = ImageLimits()

    /// Throws `.tooLarge` unless a `width` × `height` image is within the limits.
    public func check(width: Int, height: Int) throws(ImageError) {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if width > maxWidth || height > maxHeight || overflow || pixels > maxPixels {
            throw .tooLarge(width: width, height: height, limits: self)
        }
    }
}
