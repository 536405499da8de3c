import Engine
import Foundation
@testable import Serving
import XCTest

/// Answers that write themselves (`JSONWritable`) must give exactly the bytes Foundation's `JSONEncoder` (sorted keys,
/// unescaped slashes) gives for the same value through `Encodable`: member order, escapes, numbers, nulls, omitted
/// optionals.
final class JSONWriterTests: XCTestCase {
    private func assertSame<T: JSONWritable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        var json = JSONWriter()
        value.write(to: &json)
        let written = String(decoding: json.bytes, as: UTF8.self)
        XCTAssertEqual(written, String(decoding: try JSONAnswer.foundationBytes(value), as: UTF8.self), file: file, line: line)
        XCTAssertEqual(try JSONAnswer.bytes(value), json.bytes, "JSONAnswer takes the writer", file: file, line: line)
    }

    private static let awkward = ["7", "slash / quote \" back \\ tab \t nl \n bell \u{07} é 😀", "", "a,b:{c}"]

    func testClassifyAnswersWriteAsFoundationEncodes() throws {
        let probabilities = [0.9, 1e-7, 0.1 + 0.2, 1, 0, .nan, .infinity, 123_456_789.125, 5e-324]
        let predictions = probabilities.enumerated().map { index, probability in
            ClassifyAnswer.Prediction(label: Self.awkward[index % Self.awkward.count], index: index * 1_000_003 - 5, probability: probability)
        }
        try assertSame(ClassifyAnswer(model: "mnist-cnn", version: 3, predictions: predictions))
        try assertSame(ClassifyAnswer(model: "m/\u{1}", version: Int.max, predictions: []))
        let results = [
            ClassifyAnswer.Result(filename: "a \"b\".png", predictions: Array(predictions.prefix(2))),
            ClassifyAnswer.Result(filename: nil, predictions: Array(predictions.suffix(3))),
        ]
        try assertSame(ClassifyAnswer(model: "x", version: 1, results: results))
        try assertSame(ClassifyAnswer(model: "x", version: -1, results: []))
    }

    func testInferenceAnswersWriteAsFoundationEncodes() throws {
        let floats = Tensor(shape: [2, 5], floats: [0.1, -0, 1, 3.4028235e38, 1e-45, .nan, -.infinity, 1.5e-7, 16_777_216, -2.75])
        let doubles = [0.1 + 0.2, .nan, 1e300, -1].withUnsafeBytes { Tensor(dataType: .double, shape: [4], bytes: $0) }
        let int64s = Tensor(shape: [3], int64s: [.min, 0, .max])
        let bools = Tensor(shape: [3], bools: [true, false, true])
        let outputs = [
            V2Answers.OutputTensor(name: "logits", datatype: "FP32", shape: [2, 5], data: JSONTensorData(tensor: floats)),
            V2Answers.OutputTensor(name: "d", datatype: "FP64", shape: [4], data: JSONTensorData(tensor: doubles)),
            V2Answers.OutputTensor(name: Self.awkward[1], datatype: "INT64", shape: [3], data: JSONTensorData(tensor: int64s)),
            V2Answers.OutputTensor(name: "mask", datatype: "BOOL", shape: [3], data: JSONTensorData(tensor: bools)),
            V2Answers.OutputTensor(name: "raw", datatype: "FP32", shape: [0, 7], parameters: .init(binary_data_size: 0)),
            V2Answers.OutputTensor(name: "empty", datatype: "FP32", shape: [0], data: JSONTensorData(tensor: Tensor(shape: [0], floats: []))),
        ]
        try assertSame(V2Answers.InferResponse(model_name: "m", model_version: "2", id: "req \"1\"", outputs: outputs))
        try assertSame(V2Answers.InferResponse(model_name: "m", model_version: "2", id: nil, outputs: []))
    }
}
