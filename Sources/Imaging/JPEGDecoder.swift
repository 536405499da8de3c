import CImaging

/// JPEG through libjpeg-turbo: baseline and progressive, gray (1 channel) or colour (3 channels, RGB); CMYK and
/// YCCK become RGB. Corrupt or truncated data is an error (libjpeg's warnings included), never a guess.
enum JPEGDecoder {
    static func decode(_ bytes: [UInt8], limits: ImageLimits) throws(ImageError) -> Image {
        var width: Int32 = 0, height: Int32 = 0, color: Int32 = 0, progressive: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let info = bytes.withUnsafeBufferPointer { input in
            ds_jpeg_info(input.baseAddress, input.count, &width, &height, &color, &progressive, &message, message.count)
        }
        guard info == Int32(DS_JPEG_OK) else { throw error(message) }
        guard width > 0, height > 0 else { throw .corrupt(.jpeg, "dimensions \(width)x\(height)") }
        try limits.check(width: Int(width), height: Int(height))
        let channels = color == Int32(DS_JPEG_GRAY) ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * channels)
        let status = bytes.withUnsafeBufferPointer { input in
            pixels.withUnsafeMutableBufferPointer { output in
                ds_jpeg_decode(input.baseAddress, input.count, Int32(channels), output.baseAddress, output.count,
                               &message, message.count)
            }
        }
        guard status == Int32(DS_JPEG_OK) else { throw error(message) }
        return Image(width: Int(width), height: Int(height), channels: channels, pixels: pixels)
    }

    private static func error(_ message: [CChar]) -> ImageError {
        let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.contains("Premature end") || text.contains("insufficient data") || text.contains("Empty input") {
            return .truncated(.jpeg, text)
        }
        return .corrupt(.jpeg, text.isEmpty ? "libjpeg failed" : text)
    }
}
