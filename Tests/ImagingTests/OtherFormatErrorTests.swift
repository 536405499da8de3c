import Foundation
import XCTest
@testable import Imaging

/// Broken JPEG and PGM/PPM data: typed errors, never a crash (libjpeg's exit() is caught in C).
final class OtherFormatErrorTests: XCTestCase {
    private func error(_ data: Data, limits: ImageLimits = .default) -> ImageError? {
        do {
            _ = try Image.decode(data, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    func testTruncatedJPEGsAreErrors() throws {
        for name in ["jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg", "jpeg_cmyk.jpg"] {
            let data = try Fixture.data(name)
            XCTAssertNil(error(data), name)
            for length in stride(from: 3, to: data.count - 2, by: 7) {
                XCTAssertNotNil(error(data.prefix(length)), "\(name) truncated to \(length) bytes")
            }
        }
    }

    func testCorruptJPEGsAreErrors() throws {
        let data = [UInt8](try Fixture.data("jpeg_baseline.jpg"))
        var failures = 0
        // Overwrite stretches of the file (headers, tables, scan data) with junk.
        for start in stride(from: 2, to: data.count - 16, by: 23) {
            var broken = data
            for i in start..<start + 12 { broken[i] = UInt8((i * 37) & 0xFF) }
            if error(Data(broken)) != nil { failures += 1 }
        }
        XCTAssertGreaterThan(failures, 0)
        // Only the start marker, then junk.
        let junk = error(Data([0xFF, 0xD8, 0xFF, 0x00, 0x01]))
        XCTAssertTrue(junk.map { "\($0)".contains("JPEG") } ?? false, String(describing: junk))
    }

    func testJPEGDimensionsAreCheckedBeforeDecoding() throws {
        let data = try Fixture.data("jpeg_progressive.jpg")
        guard case .tooLarge(40, 30, _)? = error(data, limits: ImageLimits(maxWidth: 39)) else { return XCTFail() }
        guard case .tooLarge? = error(data, limits: ImageLimits(maxPixels: 1199)) else { return XCTFail() }
    }

    func testBrokenPNMs() throws {
        let cases: [(String, String)] = [
            ("P5\n3 2\n255\n\u{1}\u{2}", "truncated"),
            ("P5\n3 2\n", "before the maxval"),
            ("P2\n2 1\n255\n7", "before the sample 1"),
            ("P2\n2 1\n255\n7 300", "above maxval"),
            ("P6\nx 2\n255\n", "expected the width"),
            ("P5\n3 2\n0\n", "maxval 0"),
            ("P5\n3 2\n70000\n", "maxval 70000"),
            ("P5\n0 2\n255\n", "dimensions 0x2"),
            ("P1\n2 2\n0 1 1 0", "P1"),
        ]
        for (text, expected) in cases {
            let result = error(Data(text.utf8))
            XCTAssertTrue(result.map { "\($0)".contains(expected) } ?? false, "\(expected): got \(String(describing: result))")
        }
        guard case .tooLarge(100000, 100000, _)? = error(Data("P5 100000 100000 255\n".utf8)) else { return XCTFail() }
        let valid = try Fixture.data("pnm_p6.ppm")
        for length in 0..<valid.count { XCTAssertNotNil(error(valid.prefix(length)), "P6 truncated to \(length)") }
    }

    func testMessagesNameTheProblem() {
        XCTAssertEqual("\(ImageError.truncated(.png, "x"))", "truncated PNG image: x")
        XCTAssertEqual("\(ImageError.tooLarge(width: 9000, height: 2, limits: .default))",
                       "image is 9000x2; the limit is 8192x8192 and 40000000 pixels")
        XCTAssertTrue("\(ImageError.unsupportedFormat(prefix: "47 49"))".contains("47 49"))
    }
}
