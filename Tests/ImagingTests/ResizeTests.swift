import Foundation
import XCTest
@testable import Imaging

final class ResizeTests: XCTestCase {
    /// PIL's Image.resize outputs (BILINEAR, NEAREST, BOX) for gray and RGB sources, up and down: equal exactly.
    func testResizeMatchesPIL() throws {
        let references = try Fixture.all().filter { $0.resize != nil }
        XCTAssertEqual(references.count, 24)
        for reference in references {
            let resize = reference.resize!
            let source = try Image.decode(try Fixture.data(resize.source))
            let filter = try XCTUnwrap(ResizeFilter(rawValue: resize.filter))
            let output = source.resized(width: resize.width, height: resize.height, filter: filter)
            XCTAssertEqual([output.width, output.height, output.channels], [reference.width, reference.height, reference.channels])
            assertPixels(output.pixels, try reference.expectedPixels(), tolerance: reference.tolerance,
                         "\(resize.source) \(resize.filter) \(resize.width)x\(resize.height)")
        }
    }

    func testConstantImageStaysConstant() {
        let image = Image(width: 17, height: 9, channels: 3, fill: 200)
        for filter in ResizeFilter.allCases {
            for (w, h) in [(4, 4), (50, 3), (1, 1), (17, 40)] {
                XCTAssertEqual(Set(image.resized(width: w, height: h, filter: filter).pixels), [200], "\(filter) \(w)x\(h)")
            }
        }
    }

    func testSameSizeIsIdentity() {
        let image = Image(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        for filter in ResizeFilter.allCases { XCTAssertEqual(image.resized(width: 3, height: 2, filter: filter), image) }
    }

    func testNearestDoublesPixels() {
        let image = Image(width: 2, height: 2, channels: 1, pixels: [10, 20, 30, 40])
        XCTAssertEqual(image.resized(width: 4, height: 4, filter: .nearest).pixels,
                       [10, 10, 20, 20, 10, 10, 20, 20, 30, 30, 40, 40, 30, 30, 40, 40])
    }

    func testShrinkingAveragesEverySourcePixel() {
        // A 1000x1000 checkerboard of single pixels is mid-gray at 28x28 (no aliasing into stripes or moiré).
        var pixels = [UInt8](repeating: 0, count: 1_000_000)
        for y in 0..<1000 { for x in 0..<1000 where (x + y) % 2 == 0 { pixels[y * 1000 + x] = 255 } }
        let board = Image(width: 1000, height: 1000, channels: 1, pixels: pixels)
        for filter in [ResizeFilter.bilinear, .area] {
            let small = board.resized(width: 28, height: 28, filter: filter)
            XCTAssertTrue(small.pixels.allSatisfy { (126...129).contains($0) }, "\(filter): \(Set(small.pixels).sorted())")
        }
        // A 2x2 box average halves exactly.
        let image = Image(width: 4, height: 2, channels: 1, pixels: [0, 100, 200, 200, 100, 200, 0, 0])
        XCTAssertEqual(image.resized(width: 2, height: 1, filter: .area).pixels, [100, 100])
    }

    func testUpscalingInterpolatesBetweenNeighbours() {
        let ramp = Image(width: 2, height: 1, channels: 1, pixels: [0, 200])
        // Output centres at source 0.25, 0.75, 1.25, 1.75 (clamped at the edges): 0, 50, 150, 200.
        XCTAssertEqual(ramp.resized(width: 4, height: 1).pixels, [0, 50, 150, 200])
    }

    func testFitLetterboxesAndFillCropsKeepingAspect() {
        // A 40x20 white image into 10x10: 10x5, centred (rows 2 to 6).
        let wide = Image(width: 40, height: 20, channels: 1, fill: 255)
        let fit = wide.resized(width: 10, height: 10, aspect: .fit(pad: 0))
        XCTAssertEqual(fit.width, 10)
        for y in 0..<10 {
            let row = Array(fit.pixels[y * 10..<(y + 1) * 10])
            XCTAssertEqual(row, [UInt8](repeating: (2..<7).contains(y) ? 255 : 0, count: 10), "row \(y)")
        }
        // RGBA padding keeps alpha opaque.
        let rgba = Image(width: 4, height: 2, channels: 4, fill: 9).resized(width: 4, height: 4, aspect: .fit(pad: 7))
        XCTAssertEqual(Array(rgba[0, 0]), [7, 7, 7, 255])
        XCTAssertEqual(Array(rgba[0, 1]), [9, 9, 9, 9])

        // Fill: the left and right quarters of a 40x20 image are cut off.
        var pixels = [UInt8](repeating: 0, count: 800)
        for y in 0..<20 { for x in 10..<30 { pixels[y * 40 + x] = 255 } }
        let filled = Image(width: 40, height: 20, channels: 1, pixels: pixels).resized(width: 10, height: 10, aspect: .fill)
        XCTAssertEqual(Set(filled.pixels), [255])
        let stretched = Image(width: 40, height: 20, channels: 1, pixels: pixels)
            .resized(width: 10, height: 10, aspect: .stretch)
        // Squeezed 4:1 horizontally, the band's edges (source columns 10 and 29) fall mid-pixel.
        XCTAssertEqual(Array(stretched.pixels[0..<10]), [0, 0, 128, 255, 255, 255, 255, 128, 0, 0])
    }
}
