import Foundation
import InferenceGRPC
@testable import Serving
import XCTest

/// A BYTES input read as text (ModelStreamInfer's `text_input`): Triton's raw serialisation (a 4-byte little-endian
/// length, then the bytes) has its length checked against what follows, typed contents must hold one value, and the
/// text must be UTF-8; every refusal is a `ServingError` (a 400 / INVALID_ARGUMENT), never a trap.
final class GRPCBytesInputTests: XCTestCase {
    private func text(raw: [UInt8]? = nil, typed: [Data]? = nil, shape: [Int64] = [1], datatype: String = "BYTES",
                      rawCount: Int = 1) -> String {
        var input = Inference_ModelInferRequest.InferInputTensor()
        input.name = "text_input"
        input.datatype = datatype
        input.shape = shape
        if let typed {
            var contents = Inference_InferTensorContents()
            contents.bytesContents = typed
            input.contents = contents
        }
        do {
            return "text: " + (try GRPCTensors.text(input, raw: raw.map { Data($0) }, rawCount: raw == nil ? 0 : rawCount))
        } catch let error as ServingError {
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    func testRawAndTypedPromptsRead() {
        XCTAssertEqual(text(raw: [3, 0, 0, 0] + Array("abc".utf8)), "text: abc")
        XCTAssertEqual(text(raw: [0, 0, 0, 0]), "text: ")
        XCTAssertEqual(text(typed: [Data("ROMEO.\n".utf8)]), "text: ROMEO.\n")
    }

    func testLengthsCountsAndEncodingAreChecked() {
        XCTAssertTrue(text(raw: [4, 0, 0, 0] + Array("abc".utf8)).contains("4-byte little-endian length"))
        XCTAssertTrue(text(raw: [0xFF, 0xFF, 0xFF, 0xFF] + Array("abc".utf8)).contains("4-byte little-endian length"))
        XCTAssertTrue(text(raw: [3, 0, 0]).contains("got 3 bytes"))
        XCTAssertTrue(text(raw: []).contains("got 0 bytes"))
        XCTAssertTrue(text(raw: [1, 0, 0, 0, 0x61], rawCount: 2).contains("one raw_input_contents entry"))
        XCTAssertTrue(text(typed: [Data("a".utf8), Data("b".utf8)]).contains("got 2"))
        XCTAssertTrue(text(typed: [Data([0xC3, 0x28])]).contains("UTF-8"))
        XCTAssertTrue(text(raw: [2, 0, 0, 0, 0xC3, 0x28]).contains("UTF-8"))
        XCTAssertTrue(text(typed: [Data("a".utf8)], shape: [2]).contains("one element"))
        XCTAssertTrue(text(typed: [Data("a".utf8)], shape: [Int64.max, 2]).contains("elements"))
        XCTAssertTrue(text(typed: [Data("a".utf8)], datatype: "FP32").contains("a BYTES tensor"))
    }
}
