import CHTTPShims
import Glibc

/// gzip through zlib: compressing responses, and decoding request bodies with a cap on the decoded size.
enum Gzip {
    enum DecodeError: Error, Equatable { case tooLarge, corrupt }

    static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = bytes.withUnsafeBufferPointer { ds_gzip($0.baseAddress, $0.count, level, &output, &length) }
        guard rc == 0, let output else { return nil }
        defer { free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }

    /// Decodes a gzip body, giving up as soon as the output passes `limit` (a zip bomb costs at most `limit` bytes).
    static func decompress(_ bytes: [UInt8], limit: Int) throws(DecodeError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = bytes.withUnsafeBufferPointer { ds_gunzip($0.baseAddress, $0.count, limit, &output, &length) }
        switch rc {
        case Int32(DS_GUNZIP_OK):
            guard let output else { return [] }
            defer { free(output) }
            return Array(UnsafeBufferPointer(start: output, count: length))
        case Int32(DS_GUNZIP_TOO_LARGE): throw .tooLarge
        default: throw .corrupt
        }
    }

    /// Whether `Accept-Encoding` lets us send gzip (RFC 9110 §12.5.3: q=0 means "not acceptable").
    static func isAccepted(by acceptEncoding: [String]) -> Bool {
        var gzipQuality: Double?
        var anyQuality: Double?
        for member in acceptEncoding.flatMap({ $0.split(separator: ",") }) {
            let parts = member.split(separator: ";").map { trimOWS($0).lowercased() }
            guard let coding = parts.first else { continue }
            var quality = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                quality = Double(parameter.dropFirst(2)) ?? 0
            }
            if coding == "gzip" || coding == "x-gzip" { gzipQuality = quality } else if coding == "*" { anyQuality = quality }
        }
        return (gzipQuality ?? anyQuality ?? 0) > 0
    }

    /// Text-like types shrink; images and already-compressed types don't.
    static func isCompressible(contentType: String?) -> Bool {
        guard let type = contentType?.lowercased() else { return false }
        return type.hasPrefix("text/") || type.hasPrefix("application/json") || type.contains("+json")
            || type.hasPrefix("application/javascript") || type.contains("xml")
    }

    /// Bodies smaller than this aren't worth the CPU.
    static let minimumSize = 256
}

/// One gzip member compressed piece by piece, for streamed responses: each piece is flushed so the client gets it
/// at once (a Server-Sent Event must not wait in the compressor), `finish` writes the trailer.
final class GzipStream {
    private let stream: UnsafeMutableRawPointer

    init?(level: Int32 = 6) {
        guard let stream = ds_gzip_stream_new(level) else { return nil }
        self.stream = stream
    }

    deinit { ds_gzip_stream_free(stream) }

    func compress(_ bytes: [UInt8]) -> [UInt8] { write(bytes, finish: false) }
    func finish() -> [UInt8] { write([], finish: true) }

    private func write(_ bytes: [UInt8], finish: Bool) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        let rc = bytes.withUnsafeBufferPointer { ds_gzip_stream_write(stream, $0.baseAddress, $0.count, finish ? 1 : 0, &output, &length) }
        guard rc == 0, let output else { return [] }
        defer { free(output) }
        return Array(UnsafeBufferPointer(start: output, count: length))
    }
}
