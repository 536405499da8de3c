import CImaging
import Foundation

extension Image {
    /// The image as an 8-bit PNG (gray, gray+alpha, RGB or RGBA by `channels`), not interlaced, each row with the
    /// filter that minimises its sum of absolute differences (libpng's heuristic), deflated at `compressionLevel`
    /// (0–9).
    public func pngData(compressionLevel: Int = 6) -> Data {
        let colorType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][channels]!
        let rowBytes = width * channels
        var filtered = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        pixels.withUnsafeBufferPointer { source in
            let src = source.baseAddress!
            for y in 0..<height {
                let row = src + y * rowBytes
                let up: UnsafePointer<UInt8>? = y > 0 ? row - rowBytes : nil
                var bestFilter: UInt8 = 0
                var bestCost = Int.max
                var best = [UInt8]()
                for filter in UInt8(0)...4 {
                    var cost = 0
                    for i in 0..<rowBytes {
                        let a = i >= channels ? Int(row[i - channels]) : 0
                        let b = up.map { Int($0[i]) } ?? 0
                        let c = (i >= channels ? up.map { Int($0[i - channels]) } : nil) ?? 0
                        let predictor: Int
                        switch filter {
                        case 0: predictor = 0
                        case 1: predictor = a
                        case 2: predictor = b
                        case 3: predictor = (a + b) >> 1
                        default:
                            let p = a + b - c
                            let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                            predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                        }
                        let value = row[i] &- UInt8(truncatingIfNeeded: predictor)
                        candidate[i] = value
                        cost += Int(Int8(bitPattern: value).magnitude)
                    }
                    if cost < bestCost {
                        bestCost = cost
                        bestFilter = filter
                        best = candidate
                    }
                }
                let start = y * (rowBytes + 1)
                filtered[start] = bestFilter
                filtered.replaceSubrange(start + 1..<start + 1 + rowBytes, with: best)
            }
        }
        var compressed: UnsafeMutablePointer<UInt8>?
        var compressedLength = 0
        let status = filtered.withUnsafeBufferPointer {
            ds_zlib_deflate($0.baseAddress, $0.count, Int32(max(0, min(9, compressionLevel))), &compressed,
                            &compressedLength)
        }
        precondition(status == 0, "zlib deflate failed (out of memory)")
        defer { free(compressed) }

        var png = Data(PNGDecoder.signature)
        var header = [UInt8]()
        header.appendUInt32(UInt32(width))
        header.appendUInt32(UInt32(height))
        header += [8, colorType, 0, 0, 0]
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", [UInt8](UnsafeBufferPointer(start: compressed, count: compressedLength)))
        png.appendChunk("IEND", [])
        return png
    }
}

extension [UInt8] {
    mutating func appendUInt32(_ value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}

extension Data {
    mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        var chunk = [UInt8]()
        chunk.appendUInt32(UInt32(data.count))
        chunk += Array(type.utf8)
        chunk += data
        let crc = chunk.withUnsafeBufferPointer { ds_crc32(0, $0.baseAddress! + 4, $0.count - 4) }
        chunk.appendUInt32(crc)
        append(contentsOf: chunk)
    }
}
