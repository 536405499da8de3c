/// Percent-decoding for paths and query strings (RFC 3986 §2.1).
enum PercentDecoding {
    /// Decodes %XX escapes (and `+` as space when `plusIsSpace`, as HTML forms encode queries).
    /// Returns nil for a bad escape, a NUL, or bytes that aren't UTF-8.
    static func decode(_ encoded: Substring, plusIsSpace: Bool = false) -> String? {
        let utf8 = encoded.utf8
        // Most paths and queries hold no escape: found by a scan of the bytes in place (the generic `contains` over
        // the view was ~1 % of a trivial request's CPU).
        @inline(__always) func escapes(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: "%") || (plusIsSpace && byte == UInt8(ascii: "+"))
        }
        let plain = utf8.withContiguousStorageIfAvailable { !$0.contains(where: escapes) } ?? !utf8.contains(where: escapes)
        if plain { return String(encoded) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%") {
                let high = utf8.index(after: index)
                guard high != utf8.endIndex else { return nil }
                let low = utf8.index(after: high)
                guard low != utf8.endIndex, let h = hexValue(utf8[high]), let l = hexValue(utf8[low]) else { return nil }
                let decoded = h << 4 | l
                guard decoded != 0 else { return nil }
                bytes.append(decoded)
                index = utf8.index(after: low)
            } else {
                bytes.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
