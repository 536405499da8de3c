import CImaging

/// From the concatenated IDAT data to output pixels, one row at a time: a row is inflated, unfiltered against the
/// row before it and expanded to 8-bit samples straight into the output, so the only full-size buffer is the
/// output itself, and it is allocated only once the compressed data could plausibly fill it.
extension PNGDecoder {
    /// The most bytes `count` bytes of zlib data can inflate to. Deflate's best case is a 258-byte match coded in
    /// 2 bits (a 1-bit length code and a 1-bit distance code), 1032:1; the constant covers headers and tiny streams.
    static func maxInflatedSize(compressed count: Int) -> Int {
        let (product, overflow) = count.multipliedReportingOverflow(by: 1032)
        let (total, overflow2) = product.addingReportingOverflow(4096)
        return overflow || overflow2 ? .max : total
    }

    static func decodePixels(_ header: Header, compressed: ArraySlice<UInt8>, expander: SampleExpander,
                             limits: ImageLimits, budget: DecodeBudget) throws(ImageError) -> [UInt8] {
        // Only errors read it: built for each of them, not for every image.
        var size: String { "\(header.width)x\(header.height)" }
        let passes = passes(header).filter { $0.width > 0 && $0.height > 0 }
        // Each pass's rows are a filter byte and rowBytes bytes; all arithmetic checked, the limits may be huge.
        var rawSize = 0, widestRow = 0
        for pass in passes {
            let (bits, o1) = pass.width.multipliedReportingOverflow(by: header.bitsPerPixel)
            let rowBytes = (bits + 7) / 8
            let (passBytes, o2) = pass.height.multipliedReportingOverflow(by: rowBytes + 1)
            let (total, o3) = rawSize.addingReportingOverflow(passBytes)
            guard !o1, !o2, !o3 else { throw .tooLarge(width: header.width, height: header.height, limits: limits) }
            rawSize = total
            widestRow = max(widestRow, rowBytes)
        }
        // A truncated file declaring a huge image fails here, before anything is allocated.
        guard rawSize <= maxInflatedSize(compressed: compressed.count) else {
            throw .truncated(.png, "\(compressed.count) bytes of image data can't hold the \(rawSize) bytes \(size) needs")
        }
        let (pixels, o4) = header.width.multipliedReportingOverflow(by: header.height)
        let (outputCount, o5) = pixels.multipliedReportingOverflow(by: expander.outputChannels)
        guard !o4, !o5 else { throw .tooLarge(width: header.width, height: header.height, limits: limits) }
        try budget.charge(outputCount)
        try budget.charge(2, times: widestRow + 1)

        let previous = UnsafeMutablePointer<UInt8>.allocate(capacity: widestRow + 1)
        let current = UnsafeMutablePointer<UInt8>.allocate(capacity: widestRow + 1)
        defer { previous.deallocate(); current.deallocate() }
        func inflated(_ status: Int32) throws(ImageError) {
            switch Int(status) {
            case Int(DS_INFLATE_OK): return
            case Int(DS_INFLATE_TRUNCATED):
                throw .truncated(.png, "image data holds fewer than the \(rawSize) bytes \(size) needs")
            case Int(DS_INFLATE_TOO_MUCH):
                throw .corrupt(.png, "image data holds more than the \(rawSize) bytes \(size) needs")
            default: throw .corrupt(.png, "invalid zlib data in IDAT")
            }
        }

        var failure: ImageError?
        let output = compressed.withUnsafeBufferPointer { input -> [UInt8] in
            // The inflater reads `input` in place, so it lives and dies inside this closure.
            guard let inflater = ds_inflater_new(input.baseAddress, input.count) else {
                failure = .corrupt(.png, "zlib could not start (out of memory)")
                return []
            }
            defer { ds_inflater_free(inflater) }
            // Rows are written in order (not interlaced) or, for Adam7, every pixel by exactly one pass; so the
            // output needs no zeroing except for Adam7, where a failure half-way leaves gaps (never returned anyway).
            return [UInt8](unsafeUninitializedCapacity: outputCount) { buffer, initialized in
                initialized = outputCount
                guard let dst = buffer.baseAddress else { return }
                if header.interlaced { dst.initialize(repeating: 0, count: outputCount) }
                do throws(ImageError) {
                    for pass in passes {
                        let rowBytes = header.rowBytes(pass.width)
                        for row in 0..<pass.height {
                            try inflated(ds_inflater_read(inflater, current, rowBytes + 1))
                            try unfilter(current, previous: row > 0 ? previous : nil, rowBytes: rowBytes,
                                         stride: header.filterStride)
                            try expander.expand(current + 1, pass: pass, row: row, imageWidth: header.width, into: dst)
                            previous.update(from: current, count: rowBytes + 1)
                        }
                    }
                    try inflated(ds_inflater_finish(inflater))
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        return output
    }

    /// Undoes the filter of one row in place: `row` is its filter-type byte then `rowBytes` bytes, `previous`
    /// the row above, already unfiltered (nil for a pass's first row).
    static func unfilter(_ filtered: UnsafeMutablePointer<UInt8>, previous above: UnsafeMutablePointer<UInt8>?,
                         rowBytes: Int, stride bpp: Int) throws(ImageError) {
        let filter = filtered[0]
        let row = filtered + 1
        let previous = above.map { $0 + 1 }
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
            throw .corrupt(.png, "filter type \(filter)")
        }
    }
}
