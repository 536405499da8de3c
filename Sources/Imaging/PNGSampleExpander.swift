/// Turns one unfiltered row of stored samples (any depth, palette indices) into 8-bit output pixels, so a 16-bit
/// or palette image never exists at full size in any form but the output.
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

    /// Writes row `row` of `pass`, whose unfiltered stored bytes are at `src`, into the image at `dst`
    /// (`imageWidth` × height × `outputChannels` bytes). Every output sample of the row is written.
    func expand(_ src: UnsafePointer<UInt8>, pass: PNGDecoder.Pass, row: Int, imageWidth: Int,
                into dst: UnsafeMutablePointer<UInt8>) throws(ImageError) {
        let depth = header.bitDepth, stored = header.storedChannels, out = outputChannels
        let y = pass.y0 + row * pass.dy
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
            // `value` is a sample of `depth` bits (from `sample`), so each result fits a byte; truncating says so
            // without a check that could trap.
            case 16: return UInt8(truncatingIfNeeded: value >> 8)
            case 8: return UInt8(truncatingIfNeeded: value)
            default: return UInt8(truncatingIfNeeded: value * (255 / ((1 << depth) - 1)))
            }
        }
        for i in 0..<pass.width {
            let o = (y * imageWidth + pass.x0 + i * pass.dx) * out
            switch header.colorType {
            case 3:
                let index = sample(i)
                guard 4 * index < paletteRGBA.count else {
                    throw .corrupt(.png, "palette index \(index) beyond the \(paletteRGBA.count / 4) colours of PLTE")
                }
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
