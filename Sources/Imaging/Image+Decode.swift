import Foundation

extension Image {
    /// The format `data` is in, from its first bytes; nil if none we decode.
    public static func sniff(_ data: Data) -> ImageFormat? {
        // Read in place: copying a slice of `Data` into an array cost more than the checks.
        data.withUnsafeBytes { sniff(UnsafeRawBufferPointer(rebasing: $0.prefix(8))) }
    }

    /// The format `bytes` are in, from the first of them; nil if none we decode.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        bytes.withUnsafeBytes { sniff(UnsafeRawBufferPointer(rebasing: $0.prefix(8))) }
    }

    private static func sniff(_ head: UnsafeRawBufferPointer) -> ImageFormat? {
        if head.count >= 8 && head.elementsEqual(PNGDecoder.signature) { return .png }
        if head.count >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF { return .jpeg }
        if head.count >= 2 && head[0] == UInt8(ascii: "P") && (UInt8(ascii: "1")...UInt8(ascii: "7")).contains(head[1]) {
            return .pnm
        }
        return nil
    }

    /// Decodes a PNG, JPEG, PGM or PPM image, found by its first bytes.
    ///
    /// The header's dimensions are checked against `limits` before any pixel is decoded, and every buffer the
    /// decoder allocates is charged to `budget` first (nil: a budget of `limits.maxDecodedBytes` for this image
    /// alone; share one across the images of a request). With a `target`, a decoder that can scale while decoding
    /// (JPEG) returns the smallest image it can that is still at least `target` on both sides; others ignore it.
    /// The channels are the image's own (see `PNGDecoder`, `JPEGDecoder`, `PNMDecoder`); use `grayscale()` or
    /// `rgb()` to fix them.
    public static func decode(_ data: Data, limits: ImageLimits = .default, budget: DecodeBudget? = nil,
                              target: (width: Int, height: Int)? = nil) throws(ImageError) -> Image {
        try decode([UInt8](data), limits: limits, budget: budget, target: target)
    }

    /// Decodes an image held as bytes (what a request body is): the same as the `Data` overload, without a copy.
    public static func decode(_ bytes: [UInt8], limits: ImageLimits = .default, budget: DecodeBudget? = nil,
                              target: (width: Int, height: Int)? = nil) throws(ImageError) -> Image {
        guard let format = sniff(bytes) else {
            let prefix = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw .unsupportedFormat(prefix: prefix.isEmpty ? "nothing (empty)" : prefix)
        }
        return try decode(bytes, as: format, limits: limits, budget: budget, target: target)
    }

    /// Decodes `data` as `format` (see `decode(_:limits:budget:target:)`).
    public static func decode(_ data: Data, as format: ImageFormat, limits: ImageLimits = .default,
                              budget: DecodeBudget? = nil, target: (width: Int, height: Int)? = nil)
        throws(ImageError) -> Image
    {
        try decode([UInt8](data), as: format, limits: limits, budget: budget, target: target)
    }

    /// Decodes `bytes` as `format` (see `decode(_:limits:budget:target:)`).
    public static func decode(_ bytes: [UInt8], as format: ImageFormat, limits: ImageLimits = .default,
                              budget: DecodeBudget? = nil, target: (width: Int, height: Int)? = nil)
        throws(ImageError) -> Image
    {
        let budget = budget ?? DecodeBudget(limits)
        switch format {
        case .png: return try PNGDecoder.decode(bytes, limits: limits, budget: budget)
        case .jpeg: return try JPEGDecoder.decode(bytes, limits: limits, budget: budget, target: target)
        case .pnm: return try PNMDecoder.decode(bytes, limits: limits, budget: budget)
        }
    }
}

extension ImagePreprocessing {
    /// Decodes `data` (PNG, JPEG, PGM, PPM), scaled down in the decoder where it can be, and makes it this model's
    /// input.
    public func tensor(from data: Data, limits: ImageLimits = .default, budget: DecodeBudget? = nil)
        throws(ImageError) -> [Float]
    {
        tensor(from: try Image.decode(data, limits: limits, budget: budget, target: (width, height)))
    }
}
