import CImaging
import Foundation
import XCTest
@testable import Imaging

/// With a target size, libjpeg decodes at 1/2, 1/4 or 1/8 of the size, as small as it can while staying at least
/// the target on both sides: a huge JPEG is never decoded at full size for a 28 x 28 model.
final class JPEGScaleTests: XCTestCase {
    func testTheDenominatorKeepsBothSidesAtLeastTheTarget() {
        XCTAssertEqual(JPEGDecoder.scaleDenominator(width: 8000, height: 8000, target: (28, 28)), 8)
        XCTAssertEqual(JPEGDecoder.scaleDenominator(width: 100, height: 100, target: (28, 28)), 2)
        XCTAssertEqual(JPEGDecoder.scaleDenominator(width: 28, height: 28, target: (28, 28)), 1)
        XCTAssertEqual(JPEGDecoder.scaleDenominator(width: 224, height: 60, target: (28, 28)), 2)
        XCTAssertEqual(JPEGDecoder.scaleDenominator(width: 225, height: 225, target: (28, 28)), 8)   // 29 x 29
        XCTAssertEqual(JPEGDecoder.scaleDenominator(width: 8000, height: 8000, target: nil), 1)
    }

    func testALargeJPEGIsDecodedAtAnEighth() throws {
        let big = Image(width: 8000, height: 5000, channels: 1, fill: 90)   // 40 Mpx, the most the limits allow
        let jpeg = try XCTUnwrap(big.jpegData(quality: 75))
        let budget = DecodeBudget(limit: .max)
        let image = try Image.decode(jpeg, budget: budget, target: (28, 28))
        XCTAssertEqual(image.width, 1000)
        XCTAssertEqual(image.height, 625)
        // The 1000 x 625 output is all that was allocated: never the 40 MB of the full size.
        XCTAssertEqual(budget.used, 1000 * 625)
        XCTAssertEqual(Int(image.pixels[300_500]), 90, accuracy: 2)
    }

    func testAScaledDecodeLooksLikeTheFullDecodeShrunk() throws {
        var pixels = [UInt8](repeating: 0, count: 640 * 480 * 3)
        for y in 0..<480 {
            for x in 0..<640 {
                let i = (y * 640 + x) * 3
                pixels[i] = UInt8(x * 255 / 639)
                pixels[i + 1] = UInt8(y * 255 / 479)
                pixels[i + 2] = (x / 80 + y / 80) % 2 == 0 ? 40 : 220
            }
        }
        let jpeg = try XCTUnwrap(Image(width: 640, height: 480, channels: 3, pixels: pixels).jpegData(quality: 95))
        let full = try Image.decode(jpeg)
        XCTAssertEqual(full.width, 640)
        let scaled = try Image.decode(jpeg, target: (100, 100))
        XCTAssertEqual([scaled.width, scaled.height, scaled.channels], [160, 120, 3])
        let shrunk = full.resized(width: 160, height: 120, filter: .area)
        let difference = zip(scaled.pixels, shrunk.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        XCTAssertLessThan(Double(difference) / Double(scaled.pixels.count), 3.0)
    }

    func testAProgressiveJPEGIsChargedForItsCoefficients() throws {
        let image = Image(width: 1024, height: 1024, channels: 1, fill: 200)
        let jpeg = try XCTUnwrap(image.jpegData(quality: 80, progressive: true))
        let budget = DecodeBudget(limit: .max)
        let decoded = try Image.decode(jpeg, budget: budget, target: (100, 100))
        XCTAssertEqual(decoded.width, 128)
        // 128 x 128 blocks of 64 two-byte coefficients, held at full size whatever the scale, plus the output.
        XCTAssertEqual(budget.used, 1024 * 1024 * 2 + 128 * 128)
        // A budget too small for the coefficients refuses the image before libjpeg decodes it.
        XCTAssertThrowsError(try Image.decode(jpeg, budget: DecodeBudget(limit: 1 << 20), target: (100, 100)))
    }

    func testLibjpegKeepsToItsMemoryCap() throws {
        let jpeg = [UInt8](try XCTUnwrap(Image(width: 1024, height: 1024, channels: 1, fill: 7).jpegData(progressive: true)))
        var output = [UInt8](repeating: 0, count: 1024 * 1024)
        var message = [CChar](repeating: 0, count: 256)
        var width: Int32 = 0, height: Int32 = 0
        func decode(cap: Int) -> Int32 {
            jpeg.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    ds_jpeg_decode(input.baseAddress, input.count, 1, 1, cap, out.baseAddress, out.count, &width, &height,
                                   &message, message.count)
                }
            }
        }
        XCTAssertEqual(decode(cap: 0), Int32(DS_JPEG_OK))
        XCTAssertEqual(decode(cap: 4 << 20), Int32(DS_JPEG_OK))
        // 2 MiB of coefficients don't fit in 1 MiB: libjpeg refuses rather than allocating past the cap.
        XCTAssertEqual(decode(cap: 1 << 20), Int32(DS_JPEG_ERROR))
        print("libjpeg over its cap: \(String(cString: message))")
    }
}
