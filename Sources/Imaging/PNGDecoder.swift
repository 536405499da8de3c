import CImaging

/// PNG (ISO/IEC 15948): every colour type and bit depth, Adam7 interlacing, all five filters. Chunk CRCs and
/// chunk order are checked; ancillary chunks other than tRNS are skipped. Output: 8-bit samples, 16-bit samples
/// keep their high byte; gray 1 channel, gray+alpha 2, RGB and palette 3, RGBA 4 (gray, RGB and palette images
/// with a tRNS chunk gain an alpha channel). Rows are decoded one at a time (see `PNGDecoder+Pixels.swift`): the
/// output is the only full-size buffer, charged to the `DecodeBudget` before it is allocated.
enum PNGDecoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    struct Header {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var interlaced: Bool

        /// Samples per pixel as stored.
        var storedChannels: Int {
            switch colorType {
            case 2: return 3
            case 4: return 2
            case 6: return 4
            default: return 1  // 0 gray, 3 palette index
            }
        }
        var bitsPerPixel: Int { storedChannels * bitDepth }
        /// The distance, in bytes, between a byte and the one it is filtered against (at least 1).
        var filterStride: Int { max(1, bitsPerPixel / 8) }
        func rowBytes(_ width: Int) -> Int { (width * bitsPerPixel + 7) / 8 }
    }

    /// One Adam7 pass (or the whole image): where its pixels land and how many there are.
    struct Pass {
        var x0: Int, y0: Int, dx: Int, dy: Int
        var width: Int, height: Int
    }

    static func passes(_ header: Header) -> [Pass] {
        guard header.interlaced else {
            return [Pass(x0: 0, y0: 0, dx: 1, dy: 1, width: header.width, height: header.height)]
        }
        let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        return adam7.map { x0, y0, dx, dy in
            Pass(x0: x0, y0: y0, dx: dx, dy: dy,
                 width: header.width > x0 ? (header.width - x0 + dx - 1) / dx : 0,
                 height: header.height > y0 ? (header.height - y0 + dy - 1) / dy : 0)
        }
    }

    /// Chunk types, as the big-endian number their four letters make.
    private enum ChunkType {
        static let IHDR: UInt32 = 0x4948_4452, PLTE: UInt32 = 0x504C_5445, tRNS: UInt32 = 0x7452_4E53
        static let IDAT: UInt32 = 0x4944_4154, IEND: UInt32 = 0x4945_4E44
    }

    static func decode(_ bytes: [UInt8], limits: ImageLimits, budget: DecodeBudget) throws(ImageError) -> Image {
        func corrupt(_ detail: String) -> ImageError { .corrupt(.png, detail) }
        guard bytes.count >= 8 else { throw .truncated(.png, "\(bytes.count) bytes, shorter than the signature") }
        guard bytes[0..<8].elementsEqual(signature) else { throw corrupt("bad signature") }

        var header: Header?
        var palette: [UInt8]?  // RGB triples
        var transparency: [UInt8]?
        // The image data, read in place where it is one IDAT chunk (the usual case); joined only when it is several.
        var firstIDAT: Range<Int>?
        var joinedIDAT: [UInt8]?
        var sawIDAT = false, idatEnded = false
        var position = 8
        chunks: while true {
            guard position + 8 <= bytes.count else {
                throw .truncated(.png, "data ends at byte \(bytes.count) before the IEND chunk")
            }
            let length = Int(readUInt32(bytes, position))
            let typeBytes = bytes[position + 4..<position + 8]
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw corrupt("invalid chunk type at byte \(position + 4)")
            }
            // Compared as a number; the name is spelled out only for messages.
            let typeCode = readUInt32(bytes, position + 4)
            var type: String { String(decoding: typeBytes, as: UTF8.self) }
            guard length <= 0x7FFF_FFFF else { throw corrupt("\(type) chunk length \(length) exceeds 2^31-1") }
            guard position + 12 + length <= bytes.count else {
                throw .truncated(.png, "\(type) chunk at byte \(position) needs \(length) bytes of data and its CRC")
            }
            let stored = readUInt32(bytes, position + 8 + length)
            let computed = bytes.withUnsafeBufferPointer { ds_crc32(0, $0.baseAddress! + position + 4, length + 4) }
            guard stored == computed else {
                throw corrupt("CRC mismatch in \(type) chunk at byte \(position) (stored \(hex(stored)), "
                              + "computed \(hex(computed)))")
            }
            let data = position + 8..<position + 8 + length
            if header == nil && typeCode != ChunkType.IHDR { throw corrupt("first chunk is \(type), expected IHDR") }
            if sawIDAT && typeCode != ChunkType.IDAT { idatEnded = true }
            switch typeCode {
            case ChunkType.IHDR:
                guard header == nil else { throw corrupt("second IHDR chunk") }
                let parsed = try parseHeader(bytes[data])
                try limits.check(width: parsed.width, height: parsed.height)
                header = parsed
            case ChunkType.PLTE:
                let colorType = header!.colorType
                guard !sawIDAT else { throw corrupt("PLTE chunk after IDAT") }
                guard palette == nil else { throw corrupt("second PLTE chunk") }
                guard colorType != 0 && colorType != 4 else { throw corrupt("PLTE chunk in a gray image") }
                guard transparency == nil else { throw corrupt("tRNS chunk before PLTE") }
                guard length % 3 == 0, (1...256).contains(length / 3) else {
                    throw corrupt("PLTE chunk of \(length) bytes (must be 3 to 768, a multiple of 3)")
                }
                palette = Array(bytes[data])
            case ChunkType.tRNS:
                let colorType = header!.colorType
                guard !sawIDAT else { throw corrupt("tRNS chunk after IDAT") }
                guard transparency == nil else { throw corrupt("second tRNS chunk") }
                switch colorType {
                case 0: guard length == 2 else { throw corrupt("tRNS chunk of \(length) bytes in a gray image") }
                case 2: guard length == 6 else { throw corrupt("tRNS chunk of \(length) bytes in an RGB image") }
                case 3:
                    guard let palette else { throw corrupt("tRNS chunk before PLTE") }
                    guard length <= palette.count / 3 else {
                        throw corrupt("tRNS chunk has \(length) entries for \(palette.count / 3) colours")
                    }
                default: throw corrupt("tRNS chunk in an image that has an alpha channel")
                }
                transparency = Array(bytes[data])
            case ChunkType.IDAT:
                guard !idatEnded else { throw corrupt("IDAT chunks are not consecutive") }
                if header!.colorType == 3 && palette == nil { throw corrupt("palette image without a PLTE chunk") }
                sawIDAT = true
                if let first = firstIDAT {
                    if joinedIDAT == nil { joinedIDAT = Array(bytes[first]) }
                    joinedIDAT!.append(contentsOf: bytes[data])
                } else {
                    firstIDAT = data
                }
            case ChunkType.IEND:
                break chunks
            default:
                // Bit 5 of the first letter clear (upper case): critical, and we can't safely ignore it.
                if bytes[position + 4] & 0x20 == 0 { throw .unsupportedFeature(.png, "unknown critical chunk \(type)") }
            }
            position += 12 + length
        }
        guard let header else { throw corrupt("no IHDR chunk") }
        guard let firstIDAT else { throw corrupt("no IDAT chunk") }

        let expander = try SampleExpander(header: header, palette: palette, transparency: transparency)
        let compressed = joinedIDAT.map { $0[...] } ?? bytes[firstIDAT]
        let pixels = try decodePixels(header, compressed: compressed, expander: expander, limits: limits, budget: budget)
        return Image(width: header.width, height: header.height, channels: expander.outputChannels, pixels: pixels)
    }

    static func parseHeader(_ chunk: ArraySlice<UInt8>) throws(ImageError) -> Header {
        func corrupt(_ detail: String) -> ImageError { .corrupt(.png, detail) }
        guard chunk.count == 13 else { throw corrupt("IHDR chunk of \(chunk.count) bytes, expected 13") }
        let at = chunk.startIndex
        let width = Int(readUInt32(chunk, at)), height = Int(readUInt32(chunk, at + 4))
        guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw corrupt("dimensions \(width)x\(height)")
        }
        let bitDepth = Int(chunk[at + 8]), colorType = Int(chunk[at + 9])
        // The bit depths each colour type allows, as bits of a mask (bit n: depth n).
        let allowedDepths: Int
        switch colorType {
        case 0: allowedDepths = 1 << 1 | 1 << 2 | 1 << 4 | 1 << 8 | 1 << 16
        case 3: allowedDepths = 1 << 1 | 1 << 2 | 1 << 4 | 1 << 8
        case 2, 4, 6: allowedDepths = 1 << 8 | 1 << 16
        default: throw corrupt("colour type \(colorType)")
        }
        guard allowedDepths >> bitDepth & 1 == 1 else { throw corrupt("bit depth \(bitDepth) with colour type \(colorType)") }
        guard chunk[at + 10] == 0 else { throw corrupt("compression method \(chunk[at + 10])") }
        guard chunk[at + 11] == 0 else { throw corrupt("filter method \(chunk[at + 11])") }
        guard chunk[at + 12] <= 1 else { throw corrupt("interlace method \(chunk[at + 12])") }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: chunk[at + 12] == 1)
    }
}

@inline(__always)
func readUInt32<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, _ at: Bytes.Index) -> UInt32 where Bytes.Index == Int {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
