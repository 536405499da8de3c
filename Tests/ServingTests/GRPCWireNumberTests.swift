import Engine
import Foundation
import GRPCCore
import HTTPServer
import InferenceGRPC
@testable import Serving
import XCTest

/// Every number a gRPC client sends is read with checked conversions (a trap would stop the whole server): shape
/// dimensions (Int64 on the wire), their products, raw byte counts, typed values narrower than their wire type, and
/// the call's `grpc-timeout`.
final class GRPCWireNumberTests: XCTestCase {
    private func input(_ shape: [Int64], datatype: String = "FP32", raw: Data? = nil,
                       _ fill: (inout Inference_InferTensorContents) -> Void = { _ in }) throws -> NamedTensor {
        var tensor = Inference_ModelInferRequest.InferInputTensor()
        tensor.name = "x"
        tensor.datatype = datatype
        tensor.shape = shape
        if raw == nil {
            var contents = Inference_InferTensorContents()
            fill(&contents)
            tensor.contents = contents
        }
        return try GRPCTensors.decode(tensor, raw: raw)
    }

    private func refusal(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "accepted"
        } catch let error as ServingError {
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    func testShapesAreCheckedBeforeAnythingIsAllocated() throws {
        XCTAssertTrue(refusal { try self.input([-1, 2], raw: Data()) }.contains("dimension -1"))
        XCTAssertTrue(refusal { try self.input([Int64.min], raw: Data()) }.contains("dimension"))
        XCTAssertTrue(refusal { try self.input([Int64.max, Int64.max], raw: Data()) }.contains("more than 2147483647 elements"))
        XCTAssertTrue(refusal { try self.input([1 << 32, 1 << 32, 0], raw: Data()) }.contains("more than"))
        XCTAssertTrue(refusal { try self.input(Array(repeating: 1, count: 17), raw: Data(count: 4)) }.contains("17 dimensions"))
        // An empty tensor is fine, and so is a raw one whose bytes fit exactly.
        XCTAssertEqual(try input([0, 5], raw: Data()).tensor.shape, [0, 5])
        XCTAssertEqual(try input([2, 2], raw: Data(count: 16)).tensor.floatArray(), [0, 0, 0, 0])
    }

    func testRawByteCountsMustMatchShapeTimesElementSize() {
        XCTAssertTrue(refusal { try self.input([2, 2], raw: Data(count: 15)) }.contains("15 bytes"))
        XCTAssertTrue(refusal { try self.input([2, 2], raw: Data(count: 32)) }.contains("32 bytes"))
        XCTAssertTrue(refusal { try self.input([3], datatype: "INT64", raw: Data(count: 12)) }.contains("3 × 8"))
    }

    func testTypedValuesMustFitTheirDatatype() throws {
        XCTAssertEqual(try input([2], datatype: "INT8") { $0.intContents = [-128, 127] }.tensor.int64Array(), [-128, 127])
        XCTAssertTrue(refusal { try self.input([1], datatype: "INT8") { $0.intContents = [128] } }.contains("does not fit INT8"))
        XCTAssertTrue(refusal { try self.input([1], datatype: "UINT8") { $0.uintContents = [256] } }.contains("does not fit UINT8"))
        XCTAssertTrue(refusal { try self.input([1], datatype: "INT16") { $0.intContents = [Int32.min] } }.contains("does not fit"))
        XCTAssertTrue(refusal { try self.input([3]) { $0.fp32Contents = [1, 2] } }.contains("2 values for shape [3]"))
        XCTAssertTrue(refusal { try self.input([1], datatype: "FP16") { $0.fp32Contents = [1] } }.contains("FP16 is not supported"))
        XCTAssertEqual(try input([2], datatype: "BOOL") { $0.boolContents = [true, false] }.tensor.data, [1, 0])
    }

    func testRawInputContentsGoOnePerInput() {
        var request = Inference_ModelInferRequest()
        request.inputs = [.init(), .init()]
        request.rawInputContents = [Data()]
        XCTAssertTrue(refusal { try GRPCTensors.inputs(of: request) }.contains("1 entries for 2 inputs"))
    }

    func testTheCallTimeoutBecomesTheDeadline() throws {
        func deadline(_ value: String) throws -> Duration? {
            var metadata = Metadata()
            metadata.addString(value, forKey: "grpc-timeout")
            return try GRPCCall.deadline(metadata)
        }
        XCTAssertNil(try GRPCCall.deadline([:]))
        XCTAssertEqual(try deadline("250m"), .milliseconds(250))
        XCTAssertEqual(try deadline("3S"), .seconds(3))
        XCTAssertEqual(try deadline("1500u"), .microseconds(1500))
        XCTAssertEqual(try deadline("99999999H"), .milliseconds(HTTPRequest.maxDeadlineMilliseconds), "capped like X-Deadline-Ms")
        for bad in ["", "S", "5", "5s", "-5S", "123456789S", "1.5S", "٣S", "+5S"] {
            XCTAssertThrowsError(try deadline(bad), bad)
        }
    }
}
