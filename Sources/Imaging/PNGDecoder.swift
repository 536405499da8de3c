import CImaging

/// PNG (ISO/IEC 15948): every colour type and bit depth, Adam7 interlacing, all five filters. Chunk CRCs and
/// chunk order are checked; ancillary chunks other than tRNS are skipped. Output: 8-bit samples, 16-bit samples
/// keep their high byte; gray 1 channel, gray+alpha 2, RGB and palette 3, RGBA 4 (gray, RGB and palette images
/// with a tRNS chunk gain an alpha channel).
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

    static func decode(_ bytes: [UInt8], limits: ImageLimits) throws(ImageError) -> Image {
        func corrupt(_ detail: String) -> ImageError { .corrupt(.png, detail) }
        guard bytes.count >= 8 else { throw .truncated(.png, "\(bytes.count) bytes, shorter than the signature") }
        guard Array(bytes[0..<8]) == signature else { throw corrupt("bad signature") }

        var header: Header?
        var palette: [UInt8]?  // RGB triples
        var transparency: [UInt8]?
        var compressed = [UInt8]()
        var sawIDAT = false, idatEnded = false
        var position = 8
        chunks: while true {
            guard position + 8 <= bytes.count else {
                throw .truncated(.png, "data ends at byte \(bytes.count) before the IEND chunk")
            }
            let length = Int(readUInt32(bytes, position))
            let typeBytes = Array(bytes[position + 4..<position + 8])
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw corrupt("invalid chunk type at byte \(position + 4)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
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
            let data = bytes[position + 8..<position + 8 + length]
            if header == nil && type != "IHDR" { throw corrupt("first chunk is \(type), expected IHDR") }
            if sawIDAT && type != "IDAT" { idatEnded = true }
            switch type {
            case "IHDR":
                guard header == nil else { throw corrupt("second IHDR chunk") }
                let parsed = try parseHeader(Array(data))
                try limits.check(width: parsed.width, height: parsed.height)
                header = parsed
            case "PLTE":
                let colorType = header!.colorType
                guard !sawIDAT else { throw corrupt("PLTE chunk after IDAT") }
                guard palette == nil else { throw corrupt("second PLTE chunk") }
                guard colorType != 0 && colorType != 4 else { throw corrupt("PLTE chunk in a gray image") }
                guard transparency == nil else { throw corrupt("tRNS chunk before PLTE") }
                guard length % 3 == 0, (1...256).contains(length / 3) else {
                    throw corrupt("PLTE chunk of \(length) bytes (must be 3 to 768, a multiple of 3)")
                }
                palette = Array(data)
            case "tRNS":
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
                transparency = Array(data)
            case "IDAT":
                guard !idatEnded else { throw corrupt("IDAT chunks are not consecutive") }
                if header!.colorType == 3 && palette == nil { throw corrupt("palette image without a PLTE chunk") }
                sawIDAT = true
                compressed.append(contentsOf: data)
            case "IEND":
                break chunks
            default:
                // Bit 5 of the first letter clear (upper case): critical, and we can't safely ignore it.
                if typeBytes[0] & 0x20 == 0 { throw .unsupportedFeature(.png, "unknown critical chunk \(type)") }
            }
            position += 12 + length
        }
        guard let header else { throw corrupt("no IHDR chunk") }
        guard sawIDAT else { throw corrupt("no IDAT chunk") }

        let passes = passes(header)
        let rawSize = passes.reduce(0) { $0 + ($1.width == 0 ? 0 : $1.height * (1 + header.rowBytes($1.width))) }
        var raw = [UInt8](repeating: 0, count: rawSize)
        let status = compressed.withUnsafeBufferPointer { input in
            raw.withUnsafeMutableBufferPointer { output in
                ds_zlib_inflate(input.baseAddress, input.count, output.baseAddress, output.count)
            }
        }
        switch Int(status) {
        case Int(DS_INFLATE_OK): break
        case Int(DS_INFLATE_TRUNCATED):
            throw .truncated(.png, "image data holds fewer than the \(rawSize) bytes \(header.width)x\(header.height) needs")
        case Int(DS_INFLATE_TOO_MUCH):
            throw corrupt("image data holds more than the \(rawSize) bytes \(header.width)x\(header.height) needs")
        default: throw corrupt("invalid zlib data in IDAT")
        }

        let expander = try SampleExpander(header: header, palette: palette, transparency: transparency)
        var output = [UInt8](repeating: 0, count: header.width * header.height * expander.outputChannels)
        var offset = 0
        for pass in passes where pass.width > 0 && pass.height > 0 {
            let rowBytes = header.rowBytes(pass.width)
            try unfilter(&raw, offset: offset, rows: pass.height, rowBytes: rowBytes, stride: header.filterStride)
            for row in 0..<pass.height {
                try expander.expand(raw, rowStart: offset + row * (rowBytes + 1) + 1, pass: pass, row: row,
                                    imageWidth: header.width, into: &output)
            }
            offset += pass.height * (rowBytes + 1)
        }
        return Image(width: header.width, height: header.height, channels: expander.outputChannels, pixels: output)
    }

    static func parseHeader(_ data: [UInt8]) throws(ImageError) -> Header {
        func corrupt(_ detail: String) -> ImageError { .corrupt(.png, detail) }
        guard data.count == 13 else { throw corrupt("IHDR chunk of \(data.count) bytes, expected 13") }
        let width = Int(readUInt32(data, 0)), height = Int(readUInt32(data, 4))
        guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw corrupt("dimensions \(width)x\(height)")
        }
        let bitDepth = Int(data[8]), colorType = Int(data[9])
        let allowed: [Int]
        switch colorType {
        case 0: allowed = [1, 2, 4, 8, 16]
        case 3: allowed = [1, 2, 4, 8]
        case 2, 4, 6: allowed = [8, 16]
        default: throw corrupt("colour type \(colorType)")
        }
        guard allowed.contains(bitDepth) else { throw corrupt("bit depth \(bitDepth) with colour type \(colorType)") }
        guard data[10] == 0 else { throw corrupt("compression method \(data[10])") }
        guard data[11] == 0 else { throw corrupt("filter method \(data[11])") }
        guard data[12] <= 1 else { throw corrupt("interlace method \(data[12])") }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: data[12] == 1)
    }

    /// Undoes the per-row filters of one pass in place; each row is a filter-type byte and `rowBytes` bytes.
    static func unfilter(_ raw: inout [UInt8], offset: Int, rows: Int, rowBytes: Int, stride bpp: Int) throws(ImageError) {
        var badFilter: UInt8?
        raw.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress! + offset
            for y in 0..<rows {
                let filter = base[y * (rowBytes + 1)]
                let row = base + y * (rowBytes + 1) + 1
                let previous: UnsafeMutablePointer<UInt8>? = y > 0 ? row - (rowBytes + 1) : nil
                switch filter {
                case 0: break
                case 1:  // Sub
                    if rowBytes > bpp { for i in bpp..<rowBytes { row[i] = row[i] &+ row[i - bpp] } }
                case 2:  // Up
                    if let previous { for i in 0..<rowBytes { row[i] = row[i] &+ previous[i] } }
                case 3:  // Average
                    for i in 0..<rowBytes {
                        let left = i >= bpp ? Int(row[i - bpp]) : 0
                        let up = previous.map { Int($0[i]) } ?? 0
                        row[i] = row[i] &+ UInt8((left + up) >> 1)
                    }
                case 4:  // Paeth
                    for i in 0..<rowBytes {
                        let a = i >= bpp ? Int(row[i - bpp]) : 0
                        let b = previous.map { Int($0[i]) } ?? 0
                        let c = (i >= bpp ? previous.map { Int($0[i - bpp]) } : nil) ?? 0
                        let p = a + b - c
                        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                        let predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
                        row[i] = row[i] &+ UInt8(predictor)
                    }
                default:
                    badFilter = filter
                    return
                }
            }
        }
        if let badFilter { throw .corrupt(.png, "filter type \(badFilter)") }
    }
}

/// Turns unfiltered rows of stored samples (any depth, palette indices) into 8-bit output pixels.
struct SampleExpander {
    let header: PNGDecoder.Header
    let outputChannels: Int
    /// Palette as RGBA (alpha 255 where tRNS says nothing).
    let paletteRGBA: [UInt8]
    /// The stored (full-depth) gray or RGB value that means transparent.
    let transparentKey: [Int]?

    init(header: PNGDecoder.Header, palette: [UInt8]?, transparency: [UInt8]?) throws(ImageError) {
        self.header = header
        switch header.colorType {
        case 0: outputChannels = transparency == nil ? 1 : 2
        case 2, 3: outputChannels = transparency == nil ? 3 : 4
        case 4: outputChannels = 2
        default: outputChannels = 4
        }
        var rgba = [UInt8]()
        if let palette {
            for i in 0..<palette.count / 3 {
                rgba += [palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]]
                rgba.append(transparency.flatMap { i < $0.count ? $0[i] : nil } ?? 255)
            }
        }
        paletteRGBA = rgba
        if let transparency, header.colorType == 0 || header.colorType == 2 {
            transparentKey = (0..<transparency.count / 2).map { Int(transparency[2 * $0]) << 8 | Int(transparency[2 * $0 + 1]) }
        } else {
            transparentKey = nil
        }
    }

    /// Writes row `row` of `pass` (whose stored bytes start at `rowStart` in `raw`) into `output`.
    func expand(_ raw: [UInt8], rowStart: Int, pass: PNGDecoder.Pass, row: Int, imageWidth: Int,
                into output: inout [UInt8]) throws(ImageError) {
        let depth = header.bitDepth, stored = header.storedChannels, out = outputChannels
        let y = pass.y0 + row * pass.dy
        var badIndex: Int?
        raw.withUnsafeBufferPointer { rawBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                let src = rawBuffer.baseAddress! + rowStart
                let dst = outBuffer.baseAddress!
                // The common case: 8-bit samples, no palette, no key colour, not interlaced — a straight copy.
                if depth == 8 && header.colorType != 3 && transparentKey == nil && pass.dx == 1 {
                    (dst + y * imageWidth * out).update(from: src, count: pass.width * out)
                    return
                }
                @inline(__always) func sample(_ index: Int) -> Int {
                    switch depth {
                    case 8: return Int(src[index])
                    case 16: return Int(src[2 * index]) << 8 | Int(src[2 * index + 1])
                    default:
                        let bit = index * depth
                        let shift = 8 - depth - bit % 8
                        return Int(src[bit / 8] >> UInt8(shift)) & ((1 << depth) - 1)
                    }
                }
                @inline(__always) func to8(_ value: Int) -> UInt8 {
                    switch depth {
                    case 16: return UInt8(value >> 8)
                    case 8: return UInt8(value)
                    default: return UInt8(value * (255 / ((1 << depth) - 1)))
                    }
                }
                for i in 0..<pass.width {
                    let o = (y * imageWidth + pass.x0 + i * pass.dx) * out
                    switch header.colorType {
                    case 3:
                        let index = sample(i)
                        guard 4 * index < paletteRGBA.count else { badIndex = index; return }
                        for c in 0..<out { dst[o + c] = paletteRGBA[4 * index + c] }
                    case 0, 2:
                        var values = (0, 0, 0)
                        values.0 = sample(i * stored)
                        if stored == 3 { values.1 = sample(i * 3 + 1); values.2 = sample(i * 3 + 2) }
                        dst[o] = to8(values.0)
                        if stored == 3 { dst[o + 1] = to8(values.1); dst[o + 2] = to8(values.2) }
                        if let key = transparentKey {
                            let transparent = stored == 1
                                ? values.0 == key[0]
                                : values.0 == key[0] && values.1 == key[1] && values.2 == key[2]
                            dst[o + stored] = transparent ? 0 : 255
                        }
                    default:  // 4 gray+alpha, 6 RGBA
                        for c in 0..<stored { dst[o + c] = to8(sample(i * stored + c)) }
                    }
                }
            }
        }
        if let badIndex {
            throw .corrupt(.png, "palette index \(badIndex) beyond the \(paletteRGBA.count / 4) colours of PLTE")
        }
    }
}

@inline(__always)
func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
