import CImaging
import Foundation

extension Image {
    /// The image as a JPEG through libjpeg-turbo (gray, or RGB with alpha dropped over white), at `quality` 1–100,
    /// baseline unless `progressive`. Nil if libjpeg fails (it shouldn't for a valid image).
    public func jpegData(quality: Int = 90, progressive: Bool = false) -> Data? {
        let source = channels == 1 || channels == 3 ? self : (channels == 2 ? grayscale() : rgb())
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = source.pixels.withUnsafeBufferPointer { pixels in
            ds_jpeg_encode(pixels.baseAddress, Int32(width), Int32(height), Int32(source.channels),
                           Int32(min(100, max(1, quality))), progressive ? 1 : 0, &output, &length, &message,
                           message.count)
        }
        guard status == Int32(DS_JPEG_OK), let output else { return nil }
        defer { free(output) }
        return Data(bytes: output, count: length)
    }
}
