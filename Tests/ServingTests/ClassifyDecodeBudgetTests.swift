import CImaging
import Foundation
import Imaging
import XCTest
@testable import Serving

/// Decode bombs at the HTTP level: a request's images share one decode budget, so a form full of small files that
/// each decode to 160 MB is refused (413) after the first, and the server goes on answering; and JPEGs are scaled
/// in the decoder without changing what the digit model says.
final class ClassifyDecodeBudgetTests: XCTestCase {
    /// 8192 x 4882 RGBA of zero rows: 160 MB decoded from about 155 KB, within the pixel limits.
    static let bomb: [UInt8] = {
        let (width, height) = (8192, 4882)
        var deflated: UnsafeMutablePointer<UInt8>?
        var length = 0
        let raw = [UInt8](repeating: 0, count: height * (width * 4 + 1))
        _ = raw.withUnsafeBufferPointer { ds_zlib_deflate($0.baseAddress, $0.count, 9, &deflated, &length) }
        defer { free(deflated) }
        var header = [UInt8]()
        for value in [UInt32(width), UInt32(height)] { header += withUnsafeBytes(of: value.bigEndian, Array.init) }
        header += [8, 6, 0, 0, 0]
        return png([("IHDR", header), ("IDAT", [UInt8](UnsafeBufferPointer(start: deflated, count: length))), ("IEND", [])])
    }()

    func testAFormOfBombsIsRefusedAfterTheBudgetAndTheServerStillAnswers() async throws {
        let service = try LiveService(models: ["mnist-cnn"])
        let port = service.port
        let files = (0..<64).map { (name: "file", filename: Optional("bomb\($0).png"), type: "image/png", bytes: Self.bomb) }
        let body = ServingEndToEndTests.multipart(files, boundary: "b0undary")
        XCTAssertLessThan(body.count, 32 << 20, "within the route's body limit")
        let started = Date()
        let response = try ServingEndToEndTests.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: body,
                                                        headers: ["Content-Type": "multipart/form-data; boundary=b0undary"],
                                                        port: port, timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        XCTAssertEqual(response.status, 413, response.body)
        // The second image is refused before it is decoded: 160 MB + 160 MB is past the 256 MiB budget.
        XCTAssertTrue(response.body.contains("image 1 (bomb1.png)"), response.body)
        XCTAssertTrue(response.body.contains("may decode to 268435456 bytes in all"), response.body)
        print("64 bombs in one form: 413 in \(String(format: "%.2f", seconds)) s")
        let health = try ServingEndToEndTests.request("GET", "/health/live", bodyBytes: [], headers: [:], port: port)
        XCTAssertEqual(health.status, 200)
        let digit = try Data(contentsOf: ServingEndToEndTests.heldout.appendingPathComponent("000.png"))
        let normal = try ServingEndToEndTests.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: [UInt8](digit),
                                                      headers: ["Content-Type": "image/png"], port: port)
        XCTAssertEqual(normal.status, 200, normal.body)
        await service.stop()
    }

    func testLargeJPEGDigitsScaledInTheDecoderAreClassifiedAsTheirPNGs() async throws {
        let service = try LiveService(models: ["mnist-cnn"])
        let port = service.port
        func label(_ bytes: [UInt8], _ type: String) throws -> String? {
            let response = try ServingEndToEndTests.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: bytes,
                                                            headers: ["Content-Type": type], port: port)
            XCTAssertEqual(response.status, 200, response.body)
            let object = try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
            return (object?["predictions"] as? [[String: Any]])?.first?["label"] as? String
        }
        for index in 0..<20 {
            let png = try Data(contentsOf: ServingEndToEndTests.heldout.appendingPathComponent(String(format: "%03d.png", index)))
            // 8 x the size: libjpeg decodes it at 1/8, straight back to 28 x 28.
            let large = try Image.decode(png).resized(width: 224, height: 224, filter: .nearest)
            let jpeg = try XCTUnwrap(large.jpegData(quality: 95))
            XCTAssertEqual(try JPEGDecoderProbe.size(jpeg, target: (28, 28)), [28, 28])
            XCTAssertEqual(try label([UInt8](jpeg), "image/jpeg"), try label([UInt8](png), "image/png"), "digit \(index)")
        }
        await service.stop()
    }

    private static func png(_ chunks: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        for (type, data) in chunks {
            let typed = Array(type.utf8) + data
            out += withUnsafeBytes(of: UInt32(data.count).bigEndian, Array.init) + typed
            out += ServingEndToEndTests.crc32(typed)
        }
        return out
    }
}

/// The size `Image.decode` gives a JPEG for a target.
enum JPEGDecoderProbe {
    static func size(_ jpeg: Data, target: (width: Int, height: Int)) throws -> [Int] {
        let image = try Image.decode(jpeg, target: target)
        return [image.width, image.height]
    }
}
