import CImaging
import Foundation
import XCTest
@testable import Imaging

/// Broken PNGs: every one is a typed error naming what is wrong, never a crash or a huge allocation.
final class PNGErrorTests: XCTestCase {
    /// A small valid PNG from our encoder.
    private let sample = Image(width: 5, height: 4, channels: 3, pixels: (0..<60).map { UInt8($0 * 4) }).pngData()

    private func error(_ bytes: [UInt8], limits: ImageLimits = .default) -> ImageError? {
        do {
            _ = try Image.decode(Data(bytes), limits: limits)
            return nil
        } catch {
            return error
        }
    }

    /// A PNG assembled from chunks (type, data), with correct CRCs unless a test breaks them.
    private func png(_ chunks: [(String, [UInt8])]) -> [UInt8] {
        var data = Data(PNGDecoder.signature)
        for (type, body) in chunks { data.appendChunk(type, body) }
        return [UInt8](data)
    }

    private func ihdr(width: UInt32 = 2, height: UInt32 = 2, depth: UInt8 = 8, colorType: UInt8 = 0,
                      interlace: UInt8 = 0) -> (String, [UInt8]) {
        var body = [UInt8]()
        body.appendUInt32(width)
        body.appendUInt32(height)
        body += [depth, colorType, 0, 0, interlace]
        return ("IHDR", body)
    }

    private func idat(_ raw: [UInt8]) -> (String, [UInt8]) {
        var output: UnsafeMutablePointer<UInt8>?
        var length = 0
        _ = raw.withUnsafeBufferPointer { ds_zlib_deflate($0.baseAddress, $0.count, 6, &output, &length) }
        defer { free(output) }
        return ("IDAT", [UInt8](UnsafeBufferPointer(start: output, count: length)))
    }

    private let iend = ("IEND", [UInt8]())

    /// A thread keeps its last inflater for the next image (`ds_inflater_free`): an image decoded after streams that
    /// failed half-way (corrupt, too long, truncated) must come out exactly as from a fresh inflater.
    func testAReusedInflaterDecodesAsAFreshOne() throws {
        let first = try Image.decode(Data(sample))
        let raw: [UInt8] = [0, 10, 20, 0, 30, 40]
        let tooLong = png([ihdr(), idat(raw + [0, 1, 2]), iend])
        let corrupt = png([ihdr(), ("IDAT", [0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF]), iend])
        let truncated = png([ihdr(), idat(Array(raw.prefix(4))), iend])
        for broken in [tooLong, corrupt, truncated] {
            XCTAssertNotNil(error(broken))
            let again = try Image.decode(Data(sample))
            XCTAssertEqual(again.pixels, first.pixels)
            XCTAssertEqual(try Image.decode(Data(png([ihdr(), idat(raw), iend]))).pixels, [10, 20, 30, 40])
        }
    }

    /// Image data split over several IDAT chunks (empty ones too) is one stream: the decoder reads a lone IDAT in place
    /// and joins several, and both must give the same pixels, whatever the split.
    func testImageDataSplitOverIDATChunksDecodesAsOne() throws {
        let raw: [UInt8] = (0..<4).flatMap { row in [UInt8(1)] + (0..<6).map { UInt8(row * 6 + $0) } }   // Sub filter
        let whole = idat(raw).1
        let expected = try Image.decode(Data(png([ihdr(width: 6, height: 4), ("IDAT", whole), iend])))
        XCTAssertEqual(expected.pixels.count, 24)
        for cuts in [[1], [2, 5], [0, whole.count - 1], [3, 3, whole.count]] {
            var pieces: [(String, [UInt8])] = []
            var start = 0
            for cut in cuts + [whole.count] {
                pieces.append(("IDAT", Array(whole[start..<cut])))
                start = cut
            }
            let split = png([ihdr(width: 6, height: 4)] + pieces + [iend])
            XCTAssertEqual(try Image.decode(Data(split)), expected, "cut at \(cuts)")
        }
    }

    func testEveryTruncationIsAnError() {
        let bytes = [UInt8](sample)
        XCTAssertNil(error(bytes))
        for length in 0..<bytes.count {
            let result = error(Array(bytes[0..<length]))
            XCTAssertNotNil(result, "truncated to \(length) bytes")
            if length >= 8 {
                guard case .truncated(.png, _)? = result else { return XCTFail("\(length) bytes: \(String(describing: result))") }
            }
        }
    }

    func testEveryFlippedByteIsAnErrorOrStillAnImage() {
        // A flipped bit lands in a CRC-checked chunk, so every one is caught.
        let bytes = [UInt8](sample)
        for i in 0..<bytes.count {
            var broken = bytes
            broken[i] ^= 0x10
            XCTAssertNotNil(error(broken), "byte \(i) flipped")
        }
    }

    func testCRCMismatchIsNamed() {
        var bytes = [UInt8](sample)
        bytes[8 + 8 + 13] ^= 0xFF  // IHDR's CRC
        guard case .corrupt(.png, let detail)? = error(bytes) else { return XCTFail() }
        XCTAssertTrue(detail.contains("CRC mismatch in IHDR"), detail)
    }

    func testHugeDimensionsAreRejectedFromTheHeaderAlone() {
        // 100000 x 100000 RGBA would be 40 GB: refused before any allocation, whatever follows.
        let bomb = png([ihdr(width: 100_000, height: 100_000, colorType: 6), ("IDAT", [0x78, 0x9C]), iend])
        guard case .tooLarge(100_000, 100_000, _)? = error(bomb) else { return XCTFail("\(String(describing: error(bomb)))") }
        // Within each side's limit but over the pixel count.
        let wide = png([ihdr(width: 8000, height: 8000), iend])
        guard case .tooLarge? = error(wide) else { return XCTFail() }
        // Custom limits.
        guard case .tooLarge? = error([UInt8](sample), limits: ImageLimits(maxWidth: 4)) else { return XCTFail() }
        XCTAssertNil(error([UInt8](sample), limits: ImageLimits(maxWidth: 5, maxHeight: 4, maxPixels: 20)))
        // An overflowing width × height is still just too large.
        XCTAssertThrowsError(try ImageLimits(maxWidth: .max, maxHeight: .max, maxPixels: 10).check(width: .max, height: 3))
    }

    func testZlibStreamLongerThanTheImageIsRefused() {
        // A tiny header with a stream that inflates far past what 2x2 needs: stopped at the expected size.
        let bomb = png([ihdr(), idat([UInt8](repeating: 0, count: 1_000_000)), iend])
        guard case .corrupt(.png, let detail)? = error(bomb) else { return XCTFail() }
        XCTAssertTrue(detail.contains("more than"), detail)
        let short = png([ihdr(), idat([0, 1, 2]), iend])
        guard case .truncated(.png, _)? = error(short) else { return XCTFail("\(String(describing: error(short)))") }
        let garbage = png([ihdr(), ("IDAT", [1, 2, 3, 4, 5]), iend])
        guard case .corrupt(.png, _)? = error(garbage) else { return XCTFail() }
    }

    func testChunkOrderIsChecked() {
        let rows = idat([0, 1, 2, 0, 3, 4])
        XCTAssertNil(error(png([ihdr(), rows, iend])))
        let cases: [([(String, [UInt8])], String)] = [
            ([rows, ihdr(), iend], "first chunk is IDAT"),
            ([ihdr(), ihdr(), rows, iend], "second IHDR"),
            ([ihdr(), iend], "no IDAT"),
            ([ihdr(), ("IDAT", Array(rows.1.prefix(3))), ("tEXt", [65, 0, 66]), ("IDAT", Array(rows.1.dropFirst(3))), iend],
             "not consecutive"),
            ([ihdr(colorType: 3), rows, iend], "without a PLTE"),
            ([ihdr(), ("PLTE", [1, 2, 3]), rows, iend], "PLTE chunk in a gray image"),
            ([ihdr(colorType: 2), idat([0, 1, 2, 3, 4, 5, 6, 0, 1, 2, 3, 4, 5, 6]), ("PLTE", [1, 2, 3]), iend], "PLTE chunk after IDAT"),
            ([ihdr(colorType: 3), ("PLTE", [1, 2]), rows, iend], "PLTE chunk of 2 bytes"),
            ([ihdr(colorType: 3), ("tRNS", [0]), ("PLTE", [1, 2, 3]), rows, iend], "tRNS chunk before PLTE"),
            ([ihdr(colorType: 6), ("tRNS", [0, 0]), rows, iend], "tRNS chunk in an image that has an alpha channel"),
            ([ihdr(), rows, ("tRNS", [0, 0]), iend], "tRNS chunk after IDAT"),
            ([ihdr(depth: 3), rows, iend], "bit depth 3"),
            ([ihdr(depth: 16, colorType: 3), rows, iend], "bit depth 16 with colour type 3"),
            ([ihdr(colorType: 5), rows, iend], "colour type 5"),
            ([ihdr(interlace: 2), rows, iend], "interlace method 2"),
            ([ihdr(width: 0), rows, iend], "dimensions 0x2"),
            ([ihdr(), idat([0, 1, 2, 7, 3, 4]), iend], "filter type 7"),
            ([ihdr(colorType: 3), ("PLTE", [1, 2, 3]), rows, iend], "palette index 1 beyond"),
        ]
        for (chunks, expected) in cases {
            let result = error(png(chunks))
            XCTAssertTrue(result.map { "\($0)".contains(expected) } ?? false, "\(expected): got \(String(describing: result))")
        }
        // A critical chunk we don't know can't be skipped; an ancillary one is.
        guard case .unsupportedFeature(.png, _)? = error(png([ihdr(), ("ABCD", []), rows, iend])) else { return XCTFail() }
        XCTAssertNil(error(png([ihdr(), ("abCD", [9, 9]), rows, iend])))
    }
}
