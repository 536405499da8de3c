import Engine
import Foundation
import XCTest
@testable import Serving

/// multipart/form-data uploads, Triton's binary tensor extension, and the demo page, over loopback.
extension ServingEndToEndTests {
    static func multipart(_ files: [(name: String, filename: String?, type: String, bytes: [UInt8])], boundary: String) -> [UInt8] {
        var body: [UInt8] = Array("preamble to ignore\r\n".utf8)
        for file in files {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\""
            if let filename = file.filename { head += "; filename=\"\(filename)\"" }
            head += "\r\nContent-Type: \(file.type)\r\n\r\n"
            body += Array(head.utf8) + file.bytes + Array("\r\n".utf8)
        }
        return body + Array("--\(boundary)--\r\n".utf8)
    }

    func testClassifyMultipartFilesAnswersEachByName() throws {
        let labels = try String(contentsOf: Self.heldout.appendingPathComponent("labels.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().prefix(3).map { $0.split(separator: ",").map(String.init) }
        var files = try labels.map { row in
            (name: "file", filename: Optional(row[0]), type: "image/png",
             bytes: [UInt8](try Data(contentsOf: Self.heldout.appendingPathComponent(row[0]))))
        }
        files.append((name: "note", filename: nil, type: "text/plain", bytes: Array("a form field, not a file".utf8)))
        let boundary = "----deepserve-Test-Boundary-7MA4YWxk"
        let response = try Self.request("POST", "/v1/models/mnist-cnn/classify?top_k=2",
                                        bodyBytes: Self.multipart(files, boundary: boundary),
                                        headers: ["Content-Type": "multipart/form-data; boundary=\"\(boundary)\""])
        XCTAssertEqual(response.status, 200, response.body)
        let results = try XCTUnwrap(try json(response.body)["results"] as? [[String: Any]])
        XCTAssertEqual(results.map { $0["filename"] as? String }, labels.map { $0[0] }, "one answer per file, in order, text fields skipped")
        for (result, row) in zip(results, labels) {
            let predictions = try XCTUnwrap(result["predictions"] as? [[String: Any]])
            XCTAssertEqual(predictions.count, 2)
            XCTAssertEqual(predictions.first?["label"] as? String, row[1], "\(row[0])")
        }
    }

    func testClassifyMultipartErrors() throws {
        let png = [UInt8](try Data(contentsOf: Self.heldout.appendingPathComponent("000.png")))
        let good = Self.multipart([(name: "file", filename: "a.png", type: "image/png", bytes: png)], boundary: "b0undary")
        let cases: [(String, [UInt8], Int)] = [
            ("multipart/form-data", good, 400),                                            // no boundary parameter
            ("multipart/form-data; boundary=other", good, 400),                            // boundary never appears
            ("multipart/form-data; boundary=b0undary", Array(good.dropLast(14)), 400),      // no closing delimiter
            ("multipart/form-data; boundary=b0undary",
             Self.multipart([(name: "x", filename: nil, type: "text/plain", bytes: [65])], boundary: "b0undary"), 400), // no file
            ("multipart/form-data; boundary=b0undary",
             Self.multipart([(name: "file", filename: "bad.png", type: "image/png", bytes: Array(png.prefix(50)))], boundary: "b0undary"), 400),
        ]
        for (type, body, status) in cases {
            let response = try Self.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: body, headers: ["Content-Type": type])
            XCTAssertEqual(response.status, status, "\(type): \(response.body)")
            XCTAssertNotNil(try json(response.body)["error"] as? String)
        }
        let broken = Self.multipart([(name: "file", filename: "bad.png", type: "image/png", bytes: Array(png.prefix(50)))], boundary: "b0undary")
        let named = try Self.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: broken,
                                     headers: ["Content-Type": "multipart/form-data; boundary=b0undary"])
        XCTAssertTrue((try json(named.body)["error"] as? String ?? "").hasPrefix("image 0 (bad.png): "), named.body)
        // The autoencoder takes its one image as a form file too.
        let reconstructed = try Self.request("POST", "/v1/models/mnist-autoencoder/reconstruct", bodyBytes: good,
                                             headers: ["Content-Type": "multipart/form-data; boundary=b0undary"])
        XCTAssertEqual(reconstructed.status, 200, reconstructed.body)
        XCTAssertEqual(try json(reconstructed.body)["anomaly"] as? Bool, false)
    }

    /// Triton's binary tensor extension: the JSON header's length in `Inference-Header-Content-Length`, the input's
    /// raw float32 bytes after it, and the output asked for as raw bytes too.
    func testV2InferWithBinaryTensorsBothWays() throws {
        let images = try NumpyFile.read(contentsOf: SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/images.npy"))
        let labels = try NumpyFile.read(contentsOf: SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/labels.npy"))
        let batch = images.rows(0..<3)
        let header = #"{"inputs":[{"name":"image","shape":[3,1,28,28],"datatype":"FP32","parameters":{"binary_data_size":\#(batch.data.count)}}],"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}"#
        let response = try Self.rawRequest("POST", "/v2/models/mnist-cnn/infer", bodyBytes: Array(header.utf8) + batch.data,
                                           headers: ["Content-Type": "application/octet-stream",
                                                     "Inference-Header-Content-Length": String(header.utf8.count)])
        XCTAssertEqual(response.status, 200, String(decoding: response.body, as: UTF8.self))
        let jsonLength = try XCTUnwrap(Int(response.headers["inference-header-content-length"] ?? ""))
        let answer = try json(String(decoding: response.body.prefix(jsonLength), as: UTF8.self))
        let output = try XCTUnwrap((answer["outputs"] as? [[String: Any]])?.first)
        XCTAssertNil(output["data"])
        XCTAssertEqual((output["parameters"] as? [String: Any])?["binary_data_size"] as? Int, 3 * 10 * 4)
        let raw = Array(response.body.dropFirst(jsonLength))
        XCTAssertEqual(raw.count, 3 * 10 * 4)
        let logits = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        // The same numbers as the JSON form gives.
        let jsonBody = #"{"inputs":[{"name":"image","shape":[3,1,28,28],"datatype":"FP32","data":[\#(batch.floatArray().map { "\($0)" }.joined(separator: ","))]}]}"#
        let viaJSON = try json(try request("POST", "/v2/models/mnist-cnn/infer", body: jsonBody).body)
        let jsonLogits = try XCTUnwrap(((viaJSON["outputs"] as? [[String: Any]])?.first?["data"] as? [Double])?.map(Float.init))
        XCTAssertEqual(logits, jsonLogits)
        for row in 0..<3 {
            let predicted = (0..<10).max { logits[row * 10 + $0] < logits[row * 10 + $1] }!
            XCTAssertEqual(Int64(predicted), labels.int64Array()[row])
        }
    }

    func testV2BinaryTensorErrors() throws {
        func infer(_ header: String, _ binary: [UInt8], length: String? = nil) throws -> Int {
            try Self.rawRequest("POST", "/v2/models/mnist-gan/infer", bodyBytes: Array(header.utf8) + binary,
                                headers: ["Inference-Header-Content-Length": length ?? String(header.utf8.count)]).status
        }
        let latent = [UInt8](repeating: 0, count: 64 * 4)
        let header = #"{"inputs":[{"name":"latent","shape":[1,64],"datatype":"FP32","parameters":{"binary_data_size":256}}]}"#
        XCTAssertEqual(try infer(header, latent), 200)
        XCTAssertEqual(try infer(header, Array(latent.prefix(100))), 400, "fewer bytes than binary_data_size")
        XCTAssertEqual(try infer(header, latent + [1, 2, 3, 4]), 400, "bytes no input claims")
        XCTAssertEqual(try infer(header.replacingOccurrences(of: "256", with: "255"), latent), 400, "size does not fit the shape")
        XCTAssertEqual(try infer(header, latent, length: "999999"), 400, "header length past the body")
        XCTAssertEqual(try infer(header, latent, length: "-1"), 400)
        XCTAssertEqual(try infer(header, latent, length: "12"), 400, "a header cut mid-JSON")
    }

    func testDemoPageIsServedAtTheRoot() throws {
        let page = try request("GET", "/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
        XCTAssertTrue(page.body.contains("<html") || page.body.contains("<!doctype html") || page.body.contains("<!DOCTYPE html"))
        XCTAssertTrue(page.body.contains("/v1/models/"), "the page calls the API with relative URLs")
        // No outside resources: nothing loaded from another origin (scripts, styles, images, fonts, fetches).
        let outside = try NSRegularExpression(pattern: #"(src|href|action)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["'`](https?:)?//"#,
                                              options: .caseInsensitive)
        let range = NSRange(page.body.startIndex..., in: page.body)
        XCTAssertNil(outside.firstMatch(in: page.body, range: range).map { String(page.body[Range($0.range, in: page.body)!]) })
    }
}
