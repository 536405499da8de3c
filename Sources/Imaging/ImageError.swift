/// The image formats `Image.decode` recognises by their first bytes.
public enum ImageFormat: String, Sendable, Equatable, CustomStringConvertible {
    case png = "PNG"
    case jpeg = "JPEG"
    /// Netpbm: PGM (P2, P5) and PPM (P3, P6).
    case pnm = "PGM/PPM"

    public var description: String { rawValue }
}

/// Why an image could not be decoded. A serving layer maps `.tooLarge` and `.overBudget` to 413,
/// `.unsupportedFormat` to 415 and the rest to 400; `description` is a message fit for the client.
public enum ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not PNG, JPEG, PGM or PPM (`prefix`: the first bytes, in hex).
    case unsupportedFormat(prefix: String)
    /// The header declares more pixels than the limits allow; nothing was decoded.
    case tooLarge(width: Int, height: Int, limits: ImageLimits)
    /// Decoding needs `needed` more bytes than its `DecodeBudget` has left (`used` of `limit` are spent by this
    /// request's earlier images and this one's allocations so far); nothing more was allocated.
    case overBudget(needed: Int, used: Int, limit: Int)
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
        case .overBudget(let needed, let used, let limit):
            return "decoding needs \(needed) more bytes; the images of one request may decode to \(limit) bytes in all "
                + "and \(used) are spent"
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
    /// The bytes a `DecodeBudget` made from these limits allows: decoded pixels plus the decoders' large
    /// intermediates (libjpeg's coefficients of a progressive JPEG), for all the images that share the budget.
    public var maxDecodedBytes: Int

    /// 256 MiB by default: the largest single image the pixel limits allow (40 Mpx RGBA, 160 MB; or a 40 Mpx
    /// progressive colour JPEG scaled down in the decoder, whose coefficients take up to 240 MB) still fits, and so
    /// does a batch of 256 VGA photos (236 MB), while one request can no longer decode 256 × 160 MB.
    public init(maxWidth: Int = 8192, maxHeight: Int = 8192, maxPixels: Int = 40_000_000,
                maxDecodedBytes: Int = 256 << 20) {
        self.maxWidth = maxWidth
        self.maxHeight = maxHeight
        self.maxPixels = maxPixels
        self.maxDecodedBytes = maxDecodedBytes
    }

    /// 8192 × 8192, 40 megapixels and 256 MiB decoded.
    public static let `default` = ImageLimits()

    /// Throws `.tooLarge` unless a `width` × `height` image is within the limits.
    public func check(width: Int, height: Int) throws(ImageError) {
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        if width > maxWidth || height > maxHeight || overflow || pixels > maxPixels {
            throw .tooLarge(width: width, height: height, limits: self)
        }
    }
}
