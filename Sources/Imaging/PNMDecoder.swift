/// Netpbm graymaps and pixmaps: P2 (ASCII) and P5 (binary) gray, P3 (ASCII) and P6 (binary) RGB, maxval 1 to
/// 65535 (two bytes per sample, big-endian, above 255). Samples are scaled to 0...255, rounded. Comments (`#` to
/// the end of the line) may appear anywhere in the header and, for the ASCII forms, among the samples.
enum PNMDecoder {
    static func decode(_ bytes: [UInt8], limits: ImageLimits, budget: DecodeBudget) throws(ImageError) -> Image {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P") else { throw .corrupt(.pnm, "bad magic number") }
        let kind = bytes[1]
        let channels: Int, ascii: Bool
        switch kind {
        case UInt8(ascii: "2"): (channels, ascii) = (1, true)
        case UInt8(ascii: "5"): (channels, ascii) = (1, false)
        case UInt8(ascii: "3"): (channels, ascii) = (3, true)
        case UInt8(ascii: "6"): (channels, ascii) = (3, false)
        default:
            throw .unsupportedFeature(.pnm, "P\(Character(Unicode.Scalar(kind))) (only P2, P3, P5 and P6 are decoded)")
        }
        var reader = Reader(bytes: bytes, position: 2)
        let width = try reader.number("width"), height = try reader.number("height")
        guard width > 0, height > 0 else { throw .corrupt(.pnm, "dimensions \(width)x\(height)") }
        try limits.check(width: width, height: height)
        let maxval = try reader.number("maxval")
        guard (1...65535).contains(maxval) else { throw .corrupt(.pnm, "maxval \(maxval) (must be 1 to 65535)") }
        let (pixelCount, o1) = width.multipliedReportingOverflow(by: height)
        let (count, o2) = pixelCount.multipliedReportingOverflow(by: channels)
        guard !o1, !o2 else { throw .tooLarge(width: width, height: height, limits: limits) }
        @inline(__always) func scaled(_ value: Int) -> UInt8 {
            UInt8((min(value, maxval) * 255 + maxval / 2) / maxval)
        }
        var pixels = [UInt8]()
        if ascii {
            // Each sample takes at least a digit and a separator, so what's left of the file caps the allocation
            // and a truncated file fails at its end having allocated only what it could fill.
            let plausible = min(count, (bytes.count - reader.position + 1) / 2)
            try budget.charge(plausible)
            pixels.reserveCapacity(plausible)
            for i in 0..<count {
                let value = try reader.number("sample \(i)")
                guard value <= maxval else { throw .corrupt(.pnm, "sample \(value) above maxval \(maxval)") }
                pixels.append(scaled(value))
            }
        } else {
            // Exactly one whitespace byte separates the header from the binary samples.
            guard reader.position < bytes.count, isSpace(bytes[reader.position]) else {
                throw .truncated(.pnm, "no samples after the header")
            }
            let start = reader.position + 1
            let sampleBytes = maxval > 255 ? 2 : 1
            let (needed, o3) = count.multipliedReportingOverflow(by: sampleBytes)
            guard !o3, bytes.count - start >= needed else {
                throw .truncated(.pnm, "\(bytes.count - start) bytes of samples, \(width)x\(height) needs \(needed)")
            }
            try budget.charge(count)
            if maxval == 255 {
                pixels.append(contentsOf: bytes[start..<start + count])
            } else {
                pixels.reserveCapacity(count)
                for i in 0..<count {
                    let value = sampleBytes == 2
                        ? Int(bytes[start + 2 * i]) << 8 | Int(bytes[start + 2 * i + 1]) : Int(bytes[start + i])
                    pixels.append(scaled(value))
                }
            }
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    struct Reader {
        let bytes: [UInt8]
        var position: Int

        /// The next decimal number, skipping whitespace and comments; leaves `position` just after its digits.
        mutating func number(_ what: String) throws(ImageError) -> Int {
            while position < bytes.count {
                if PNMDecoder.isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 0x0A && bytes[position] != 0x0D { position += 1 }
                } else {
                    break
                }
            }
            guard position < bytes.count else { throw .truncated(.pnm, "data ends before the \(what)") }
            var value = 0, digits = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                digits += 1
                position += 1
                guard value <= 1 << 31 else { throw .corrupt(.pnm, "\(what) is too large") }
            }
            guard digits > 0 else {
                throw .corrupt(.pnm, "expected the \(what), found byte 0x\(String(bytes[position], radix: 16))")
            }
            return value
        }
    }
}
