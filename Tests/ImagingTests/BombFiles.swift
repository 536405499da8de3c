import CImaging
import Foundation
@testable import Imaging

/// Small files that declare large images, built here rather than checked in: some really hold their pixels (all
/// zero rows, the most compressible data there is), some are cut short.
enum BombFiles {
    /// A PNG of the given chunks' contents, with correct CRCs.
    static func png(width: Int, height: Int, depth: UInt8, colorType: UInt8, interlaced: Bool = false,
                    palette: [UInt8]? = nil, transparency: [UInt8]? = nil, idat: [UInt8]) -> Data {
        var header = [UInt8]()
        header.appendUInt32(UInt32(width))
        header.appendUInt32(UInt32(height))
        header += [depth, colorType, 0, 0, interlaced ? 1 : 0]
        var data = Data(PNGDecoder.signature)
        data.appendChunk("IHDR", header)
        if let palette { data.appendChunk("PLTE", palette) }
        if let transparency { data.appendChunk("tRNS", transparency) }
        data.appendChunk("IDAT", idat)
        data.appendChunk("IEND", [])
        return data
    }

    /// `height` rows of `rowBytes` zero bytes, each after filter byte 0, deflated at level 9.
    static func zeroRows(height: Int, rowBytes: Int) -> [UInt8] {
        deflate([UInt8](repeating: 0, count: height * (rowBytes + 1)))
    }

    static func deflate(_ raw: [UInt8]) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        _ = raw.withUnsafeBufferPointer { ds_zlib_deflate($0.baseAddress, $0.count, 9, &output, &length) }
        defer { free(output) }
        return [UInt8](UnsafeBufferPointer(start: output, count: length))
    }

    /// What the decoder allocated before it inflated row by row: every filtered row of the image at once (filter
    /// bytes included), then the output, both zeroed before the first byte was inflated.
    static func wholeImageDecoderBytes(height: Int, rowBytes: Int, outputBytes: Int) -> Int {
        height * (rowBytes + 1) + outputBytes
    }

    /// A 16-bit RGBA PNG of zero pixels: 8 bytes a pixel stored, 4 decoded.
    static func sixteenBit(width: Int, height: Int) -> Data {
        png(width: width, height: height, depth: 16, colorType: 6, idat: zeroRows(height: height, rowBytes: width * 8))
    }

    /// A 1-bit palette PNG of colour 0: 1/8 byte a pixel stored, 3 decoded (4 with `transparent`).
    static func palette(width: Int, height: Int, transparent: Bool = false) -> Data {
        png(width: width, height: height, depth: 1, colorType: 3, palette: [10, 20, 30, 200, 210, 220],
            transparency: transparent ? [128] : nil, idat: zeroRows(height: height, rowBytes: (width + 7) / 8))
    }

    /// 63 bytes: an IHDR declaring 8192 x 4882 16-bit RGBA (320 MB of rows) and the first 6 bytes of its data.
    static let truncated: Data = {
        let start = Array(zeroRows(height: 64, rowBytes: 8192 * 8).prefix(6))
        return png(width: 8192, height: 4882, depth: 16, colorType: 6, idat: start)
    }()
}
