import Foundation
import XCTest
@testable import Imaging

/// Decode bombs inside the pixel limits: each file decodes (or fails) having allocated no more than what it can
/// really produce, counted by the `DecodeBudget` every decoder charges before it allocates.
final class DecodeBombTests: XCTestCase {
    private func decode(_ data: Data, target: (width: Int, height: Int)? = nil)
        -> (image: Image?, error: ImageError?, bytes: Int)
    {
        let budget = DecodeBudget(limit: .max)
        do {
            let image = try Image.decode(data, limits: .default, budget: budget, target: target)
            return (image, nil, budget.used)
        } catch {
            return (nil, error, budget.used)
        }
    }

    func testSixteenBitPNGDecodesStraightToEightBit() throws {
        let (width, height) = (2048, 2048)
        let file = BombFiles.sixteenBit(width: width, height: height)
        let rowBytes = width * 8, outputBytes = width * height * 4
        let (image, error, bytes) = decode(file)
        XCTAssertNil(error)
        XCTAssertEqual(image?.channels, 4)
        XCTAssertEqual(image?.pixels.count, outputBytes)
        // The output and two rows of stored samples; never the 33 MB of 16-bit rows as well.
        XCTAssertLessThanOrEqual(bytes, outputBytes + 2 * (rowBytes + 1))
        XCTAssertLessThan(bytes, BombFiles.wholeImageDecoderBytes(height: height, rowBytes: rowBytes, outputBytes: outputBytes) / 2)
        print("16-bit bomb: \(file.count) bytes of file; \(bytes) bytes decoded (whole-image decoder: "
              + "\(BombFiles.wholeImageDecoderBytes(height: height, rowBytes: rowBytes, outputBytes: outputBytes)))")
    }

    func testPalettePNGExpandsRowByRow() throws {
        let (width, height) = (8192, 2048)
        let file = BombFiles.palette(width: width, height: height)
        XCTAssertLessThan(file.count, 4096, "a tiny file")
        let rowBytes = width / 8, outputBytes = width * height * 3
        let (image, error, bytes) = decode(file)
        XCTAssertNil(error)
        XCTAssertEqual(Array(image?.pixels.prefix(3) ?? []), [10, 20, 30])
        XCTAssertLessThanOrEqual(bytes, outputBytes + 2 * (rowBytes + 1))
        XCTAssertLessThan(bytes, BombFiles.wholeImageDecoderBytes(height: height, rowBytes: rowBytes, outputBytes: outputBytes))
        print("palette bomb: \(file.count) bytes of file; \(bytes) bytes decoded (whole-image decoder: "
              + "\(BombFiles.wholeImageDecoderBytes(height: height, rowBytes: rowBytes, outputBytes: outputBytes)))")
    }

    func testInterlacedSixteenBitPNGHoldsOnlyRows() throws {
        let (width, height) = (1024, 1024)
        // Adam7 rows of zeros: the raw size of all seven passes, each row a filter byte and its samples.
        let passes = PNGDecoder.passes(PNGDecoder.Header(width: width, height: height, bitDepth: 16, colorType: 6,
                                                         interlaced: true))
        let raw = passes.filter { $0.width > 0 }.reduce(0) { $0 + $1.height * (1 + $1.width * 8) }
        let file = BombFiles.png(width: width, height: height, depth: 16, colorType: 6, interlaced: true,
                                 idat: BombFiles.deflate([UInt8](repeating: 0, count: raw)))
        let (image, error, bytes) = decode(file)
        XCTAssertNil(error)
        XCTAssertEqual(image?.pixels.count, width * height * 4)
        XCTAssertLessThanOrEqual(bytes, width * height * 4 + 2 * (width * 8 + 1))
    }

    func testTruncatedPNGFailsBeforeAllocating() {
        let file = BombFiles.truncated
        XCTAssertEqual(file.count, 63)
        let (_, error, bytes) = decode(file)
        guard case .truncated(.png, let detail)? = error else { return XCTFail(String(describing: error)) }
        XCTAssertTrue(detail.contains("can't hold"), detail)
        // 6 bytes of zlib data inflate to at most 6 × 1032 (+ headers): nothing as large as 8192 × 4882 is allocated.
        XCTAssertEqual(bytes, 0)
        print("truncated bomb: \(file.count) bytes of file; \(bytes) bytes allocated (whole-image decoder: "
              + "\(BombFiles.wholeImageDecoderBytes(height: 4882, rowBytes: 8192 * 8, outputBytes: 8192 * 4882 * 4)))")
    }

    func testTruncatedPNGWithPlausibleDataAllocatesInProportion() {
        // Half the zlib stream of a real 16-bit image: the rows it holds can't all be there, and what the decoder
        // allocates is bounded by what that much zlib data could inflate to.
        let full = BombFiles.zeroRows(height: 512, rowBytes: 512 * 8)
        let half = Array(full.prefix(full.count / 2))
        let file = BombFiles.png(width: 512, height: 512, depth: 16, colorType: 6, idat: half)
        let (_, error, bytes) = decode(file)
        guard case .truncated? = error else { return XCTFail(String(describing: error)) }
        XCTAssertLessThanOrEqual(bytes, PNGDecoder.maxInflatedSize(compressed: half.count) + 2 * (512 * 8 + 1))
    }

    func testTruncatedPNMsFailBeforeAllocating() {
        for header in ["P5 8192 4882 255\n", "P6 4000 3000 65535\n", "P2 8192 4882 255\n"] {
            let (_, error, bytes) = decode(Data((header + "1 2 3 4 5 6 7 8 9 10").utf8))
            guard case .truncated(.pnm, _)? = error else { return XCTFail("\(header): \(String(describing: error))") }
            XCTAssertLessThanOrEqual(bytes, 20, header)
        }
    }
}
