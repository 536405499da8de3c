import Foundation
import XCTest
@testable import Imaging

/// Every reference file (each PNG colour type and bit depth, interlaced, tRNS, JPEG baseline / progressive /
/// gray / CMYK, PGM / PPM) decodes to the pixels make_fixtures.py recorded.
final class DecoderFixtureTests: XCTestCase {
    func testEveryFixtureDecodesToItsExpectedPixels() throws {
        let fixtures = try Fixture.all().filter { $0.file != nil }
        XCTAssertGreaterThan(fixtures.count, 40)
        for fixture in fixtures {
            let name = fixture.file!
            let image: Image
            do {
                image = try Image.decode(try Fixture.data(name))
            } catch {
                XCTFail("\(name): \(error)")
                continue
            }
            XCTAssertEqual([image.width, image.height, image.channels], [fixture.width, fixture.height, fixture.channels],
                           name)
            if image.channels == fixture.channels {
                assertPixels(image.pixels, try fixture.expectedPixels(), tolerance: fixture.tolerance, name)
            }
        }
    }

    func testEveryPNGColourTypeAndBitDepthIsCovered() throws {
        let names = Set(try Fixture.all().compactMap(\.file))
        for (colorType, depths) in [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]] {
            for depth in depths {
                XCTAssertTrue(names.contains("png_ct\(colorType)_d\(depth).png"), "ct \(colorType) depth \(depth)")
                XCTAssertTrue(names.contains("png_ct\(colorType)_d\(depth)_adam7.png"), "ct \(colorType) depth \(depth) Adam7")
            }
        }
    }

    func testFormatIsSniffedFromTheFirstBytes() throws {
        XCTAssertEqual(Image.sniff(try Fixture.data("png_ct2_d8.png")), .png)
        XCTAssertEqual(Image.sniff(try Fixture.data("jpeg_progressive.jpg")), .jpeg)
        XCTAssertEqual(Image.sniff(try Fixture.data("pnm_p5.pgm")), .pnm)
        XCTAssertNil(Image.sniff(Data("GIF89a".utf8)))
        XCTAssertThrowsError(try Image.decode(Data("GIF89a......".utf8))) { error in
            guard case ImageError.unsupportedFormat(let prefix) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(prefix.hasPrefix("47 49 46"), prefix)
        }
        XCTAssertThrowsError(try Image.decode(Data())) { error in
            guard case ImageError.unsupportedFormat = error else { return XCTFail("\(error)") }
        }
    }

    func testHeldOutDigitsDecodeAndPreprocessExactlyAsPILDid() throws {
        let folder = Fixture.packageRoot.appendingPathComponent("Tests/Fixtures/models/mnist-heldout")
        let configData = try Data(contentsOf: Fixture.packageRoot.appendingPathComponent("models/mnist-cnn/config.json"))
        struct Config: Decodable { var preprocessing: ImagePreprocessing }
        let preprocessing = try JSONDecoder().decode(Config.self, from: configData).preprocessing
        XCTAssertEqual(preprocessing.width, 28)
        XCTAssertEqual(preprocessing.channels, 1)
        XCTAssertEqual(preprocessing.scale, Float(0.00392156862745098))
        XCTAssertEqual(preprocessing.mean, [0.1307])
        XCTAssertEqual(preprocessing.std, [0.3081])
        XCTAssertFalse(preprocessing.invert)

        let reference = try readNumpy(folder.appendingPathComponent("images.npy"))
        XCTAssertEqual(reference.shape, [200, 1, 28, 28])
        let labels = try String(contentsOf: folder.appendingPathComponent("labels.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
        XCTAssertEqual(labels.count, 200)
        var worst = 0.0
        for (n, file) in labels.enumerated() {
            let tensor = try preprocessing.tensor(from: try Data(contentsOf: folder.appendingPathComponent(String(file))))
            XCTAssertEqual(tensor.count, 784)
            for i in 0..<784 { worst = max(worst, abs(Double(tensor[i]) - reference.values[n * 784 + i])) }
        }
        XCTAssertLessThanOrEqual(worst, 1e-6)
    }
}
