import CImaging

/// JPEG through libjpeg-turbo: baseline and progressive, gray (1 channel) or colour (3 channels, RGB); CMYK and
/// YCCK become RGB. Corrupt or truncated data is an error (libjpeg's warnings included), never a guess. Given a
/// target size, libjpeg scales down while decoding (1/2, 1/4 or 1/8) as far as it can stay at least that big.
enum JPEGDecoder {
    static func decode(_ bytes: [UInt8], limits: ImageLimits, budget: DecodeBudget,
                       target: (width: Int, height: Int)?) throws(ImageError) -> Image {
        var width: Int32 = 0, height: Int32 = 0, color: Int32 = 0, progressive: Int32 = 0
        var coefficients = 0
        var message = [CChar](repeating: 0, count: 256)
        let info = bytes.withUnsafeBufferPointer { input in
            ds_jpeg_info(input.baseAddress, input.count, &width, &height, &color, &progressive, &coefficients,
                         &message, message.count)
        }
        guard info == Int32(DS_JPEG_OK) else { throw error(message) }
        guard width > 0, height > 0 else { throw .corrupt(.jpeg, "dimensions \(width)x\(height)") }
        try limits.check(width: Int(width), height: Int(height))
        let channels = color == Int32(DS_JPEG_GRAY) ? 1 : 3
        let denominator = scaleDenominator(width: Int(width), height: Int(height), target: target)
        let outWidth = (Int(width) + denominator - 1) / denominator
        let outHeight = (Int(height) + denominator - 1) / denominator
        let (pixels, overflow) = outWidth.multipliedReportingOverflow(by: outHeight)
        guard !overflow else { throw .tooLarge(width: Int(width), height: Int(height), limits: limits) }
        // A progressive image keeps every coefficient until its last scan, at full size whatever the scale.
        try budget.charge(coefficients)
        try budget.charge(pixels, times: channels)
        var decodedWidth: Int32 = 0, decodedHeight: Int32 = 0, status = Int32(DS_JPEG_ERROR)
        // libjpeg's own working memory (tables, a few rows of MCUs, the coefficients) may take what was charged
        // for the coefficients plus 16 MiB, and no more.
        let (cap, capOverflow) = coefficients.addingReportingOverflow(16 << 20)
        // Not zeroed: libjpeg writes rows as the data arrives (every sample of every row when it succeeds), so a
        // truncated file touches only what it held; a failure's buffer is never returned.
        let output = [UInt8](unsafeUninitializedCapacity: pixels * channels) { out, initialized in
            initialized = pixels * channels
            status = bytes.withUnsafeBufferPointer { input in
                ds_jpeg_decode(input.baseAddress, input.count, Int32(channels), Int32(denominator),
                               capOverflow ? 0 : cap, out.baseAddress, out.count, &decodedWidth, &decodedHeight,
                               &message, message.count)
            }
        }
        guard status == Int32(DS_JPEG_OK) else { throw error(message) }
        guard Int(decodedWidth) == outWidth, Int(decodedHeight) == outHeight else {
            throw .corrupt(.jpeg, "libjpeg decoded \(decodedWidth)x\(decodedHeight), expected \(outWidth)x\(outHeight)")
        }
        return Image(width: outWidth, height: outHeight, channels: channels, pixels: output)
    }

    /// The largest of 1, 2, 4 and 8 that keeps a `width` × `height` image at least as big as `target` on both
    /// sides (each side rounded up, as libjpeg does); 1 without a target.
    static func scaleDenominator(width: Int, height: Int, target: (width: Int, height: Int)?) -> Int {
        guard let target else { return 1 }
        for denominator in [8, 4, 2] {
            let w = (width + denominator - 1) / denominator, h = (height + denominator - 1) / denominator
            if w >= target.width && h >= target.height { return denominator }
        }
        return 1
    }

    private static func error(_ message: [CChar]) -> ImageError {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.contains("Premature end") || text.contains("insufficient data") || text.contains("Empty input") {
            return .truncated(.jpeg, text)
        }
        return .corrupt(.jpeg, text.isEmpty ? "libjpeg failed" : text)
    }
}
