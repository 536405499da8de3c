import Foundation
import XCTest
@testable import Imaging

/// Colour conversions, the PNG encoder, and pixels <-> tensors.
final class ImageTests: XCTestCase {
    private func random(_ width: Int, _ height: Int, _ channels: Int, seed: UInt64) -> Image {
        var state = seed
        let pixels = (0..<width * height * channels).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        return Image(width: width, height: height, channels: channels, pixels: pixels)
    }

    func testGrayscaleIsBT601LumaAsPIL() {
        let image = Image(width: 4, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30])
        // PIL: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16.
        XCTAssertEqual(image.grayscale().pixels, [76, 150, 29, 124])
    }

    func testAlphaIsCompositedOverTheBackground() {
        let rgba = Image(width: 2, height: 1, channels: 4, pixels: [0, 0, 0, 0, 100, 100, 100, 128])
        XCTAssertEqual(rgba.rgb().pixels, [255, 255, 255, 177, 177, 177])  // default: white
        XCTAssertEqual(rgba.rgb(background: 0).pixels, [0, 0, 0, 50, 50, 50])
        XCTAssertEqual(rgba.grayscale(background: 0).pixels, [0, 50])
        let grayAlpha = Image(width: 1, height: 1, channels: 2, pixels: [200, 255])
        XCTAssertEqual(grayAlpha.grayscale().pixels, [200])
        XCTAssertEqual(grayAlpha.rgb().pixels, [200, 200, 200])
        XCTAssertEqual(Image(width: 1, height: 1, channels: 1, pixels: [7]).rgba().pixels, [7, 7, 7, 255])
    }

    func testInvertedKeepsAlpha() {
        XCTAssertEqual(Image(width: 1, height: 1, channels: 4, pixels: [0, 10, 255, 99]).inverted().pixels, [255, 245, 0, 99])
        XCTAssertEqual(Image(width: 2, height: 1, channels: 1, pixels: [0, 200]).inverted().pixels, [255, 55])
    }

    func testPNGEncoderRoundTripsEveryChannelCount() throws {
        for channels in 1...4 {
            for (w, h) in [(1, 1), (7, 3), (64, 33)] {
                let image = random(w, h, channels, seed: UInt64(w * 10 + channels))
                let png = image.pngData()
                XCTAssertEqual(Image.sniff(png), .png)
                XCTAssertEqual(try Image.decode(png), image, "\(w)x\(h)x\(channels)")
            }
        }
        // Smooth content compresses well (the filters work).
        let gradient = Image(width: 256, height: 256, channels: 1, pixels: (0..<65536).map { UInt8(($0 % 256 + $0 / 256) / 2) })
        let png = gradient.pngData()
        XCTAssertLessThan(png.count, 4000)
        XCTAssertEqual(try Image.decode(png), gradient)
    }

    func testTensorIsCHWWithPerChannelNormalisation() {
        let image = Image(width: 2, height: 1, channels: 3, pixels: [0, 51, 102, 255, 204, 153])
        let tensor = image.tensor(scale: 1.0 / 255.0, mean: [0, 0.5, 0], std: [1, 0.5, 2])
        let expected: [Float] = [0, 1, -0.6, 0.6, 0.2, 0.3]
        for (a, b) in zip(tensor, expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertEqual(image.tensor(scale: 1, invert: true).prefix(2), [255, 0])
    }

    /// One gray channel, not inverted, has a loop of its own (vectorised); it must give the bits of the general loop,
    /// which the inverted image still takes, for every pixel value.
    func testGrayTensorGivesTheBitsOfTheGeneralLoop() {
        let values = (0...255).map { UInt8($0) }
        let gray = Image(width: 16, height: 16, channels: 1, pixels: values)
        let (scale, mean, std): (Float, Float, Float) = (0.00392156862745098, 0.1307, 0.3081)
        let fast = gray.tensor(scale: scale, mean: [mean], std: [std])
        // Inverting the inverted pixels takes the general loop and must land on the same inputs.
        let general = Image(width: 16, height: 16, channels: 1, pixels: values.map { 255 - $0 })
            .tensor(scale: scale, mean: [mean], std: [std], invert: true)
        XCTAssertEqual(fast.map(\.bitPattern), general.map(\.bitPattern))
        XCTAssertEqual(fast.map(\.bitPattern), values.map { ((Float($0) * scale - mean) / std).bitPattern })
    }

    func testPreprocessingFollowsTheConfigOrder() throws {
        // Dark-on-light RGBA digit, 56x56: composite → gray → resize to 28x28 → invert → scale → normalise.
        let json = """
            {"width": 28, "height": 28, "channels": 1, "color": "grayscale", "layout": "NCHW", "resize": "bilinear",
             "scale": 0.00392156862745098, "mean": [0.1307], "std": [0.3081], "polarity": "white-on-black",
             "invert": true}
            """
        let preprocessing = try JSONDecoder().decode(ImagePreprocessing.self, from: Data(json.utf8))
        XCTAssertTrue(preprocessing.invert)
        XCTAssertEqual(preprocessing.aspect, .stretch)
        let page = Image(width: 56, height: 56, channels: 4, fill: 0)  // fully transparent: white paper
        let tensor = preprocessing.tensor(from: page)
        XCTAssertEqual(tensor.count, 784)
        // White → inverted 0 → (0 − 0.1307) / 0.3081.
        XCTAssertTrue(tensor.allSatisfy { abs($0 - (-0.1307 / 0.3081)) < 1e-6 })

        let bad = [#"{"width": 28, "height": 28, "color": "cmyk"}"#, #"{"width": 28, "height": 28, "channels": 2}"#,
                   #"{"width": 28, "height": 28, "channels": 3, "mean": [1, 2]}"#,
                   #"{"width": 28, "height": 28, "channels": 1, "resize": "bicubic"}"#,
                   #"{"width": 0, "height": 28, "channels": 1}"#]
        for text in bad {
            XCTAssertThrowsError(try JSONDecoder().decode(ImagePreprocessing.self, from: Data(text.utf8)), text)
        }
        let rgb = try JSONDecoder().decode(ImagePreprocessing.self, from: Data(
            #"{"width": 4, "height": 2, "color": "rgb", "aspect": "fit", "pad": 3}"#.utf8))
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(rgb.aspect, .fit(pad: 3))
        XCTAssertEqual(rgb.tensor(from: Image(width: 3, height: 3, channels: 1, fill: 9)).count, 24)
    }

    func testTensorBackToImage() throws {
        let unit = try Image(tensor: [0, 0.5, 1, 2, -1, .nan], width: 3, height: 2, channels: 1)
        XCTAssertEqual(unit.pixels, [0, 128, 255, 255, 0, 0])
        let signed = try Image(tensor: [-1, 0, 1, 0.5, -1, 1], width: 1, height: 2, channels: 3, range: .signed)
        // CHW → interleaved: R = [-1, 0], G = [1, 0.5], B = [-1, 1].
        XCTAssertEqual(signed.pixels, [0, 255, 0, 128, 191, 255])
        XCTAssertThrowsError(try Image(tensor: [0, 1], width: 3, height: 1, channels: 1)) { error in
            XCTAssertEqual(error as? ImageError, .tensorSize(expected: 3, actual: 2))
        }
        // A decoded-and-normalised image goes back to the same pixels.
        let image = random(5, 4, 3, seed: 3)
        XCTAssertEqual(try Image(tensor: image.tensor(), width: 5, height: 4, channels: 3), image)
    }

    func testCrop() {
        let image = Image(width: 3, height: 3, channels: 1, pixels: Array(0..<9))
        XCTAssertEqual(image.cropped(x: 1, y: 1, width: 2, height: 2).pixels, [4, 5, 7, 8])
    }
}
