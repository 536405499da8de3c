import Foundation
import XCTest
@testable import Engine

/// Runs every ONNX backend node test whose operators the engine supports, and compares its
/// outputs with the reference (rtol 1e-4, atol 1e-5 unless an exclusion below says otherwise).
final class ONNXConformanceTests: XCTestCase {
    static let excluded = ONNXConformanceExclusions.byName
    private var inferredOutputs = 0, totalOutputs = 0

    func testNodeTestsOfSupportedOperators() throws {
        let supported = Set(OperatorRegistry.supportedOpTypes)
        let cases = try ONNXNodeTestSuite.cases()
        XCTAssertGreaterThan(cases.count, 1000, "the generated suite looks incomplete")
        let names = Set(cases.map(\.name))
        for name in Self.excluded.keys where !names.contains(name) {
            XCTFail("exclusion '\(name)' names no ONNX node test; remove it")
        }
        var passed = 0, failed: [String] = []
        for testCase in cases where testCase.opTypes.isSubset(of: supported) && Self.excluded[testCase.name] == nil {
            do {
                try check(testCase)
                passed += 1
            } catch {
                failed.append("\(testCase.name): \(error)")
            }
        }
        for failure in failed { XCTFail(failure) }
        let coveredOps = supported.filter { op in cases.contains { $0.opTypes.contains(op) } }
        print("ONNX node tests: \(passed) passed, \(failed.count) failed, \(Self.excluded.count) excluded (reviewed list), "
              + "covering \(coveredOps.count) of \(supported.count) supported operators; "
              + "static shape inference stated \(inferredOutputs) of \(totalOutputs) outputs completely")
        XCTAssertGreaterThan(inferredOutputs * 4, totalOutputs * 3, "static shape inference covers too few node tests")
    }

    private func check(_ testCase: ONNXNodeTestSuite.Case) throws {
        let plan = try Plan(contentsOf: testCase.directory.appendingPathComponent("model.onnx"))
        for (index, set) in try ONNXNodeTestSuite.dataSets(testCase).enumerated() {
            var feeds: [String: Tensor] = [:]
            for (info, tensor) in zip(plan.inputs, set.inputs) { feeds[info.name] = tensor }
            let results = try plan.run(feeds)
            // Static shape inference at these shapes must agree with the run wherever it states something.
            inferredOutputs += try ShapeInferenceTests.checkFacts(plan, feeds: feeds, results: results, "data set \(index)")
            totalOutputs += plan.outputs.count
            for (info, expected) in zip(plan.outputs, set.outputs) {
                guard let actual = results[info.name] else { throw Mismatch("data set \(index): output \(info.name) missing") }
                try compare(actual, expected, name: "data set \(index), output \(info.name)")
            }
        }
    }

    private func compare(_ actual: Tensor, _ expected: Tensor, name: String) throws {
        guard actual.dataType == expected.dataType else {
            throw Mismatch("\(name): type \(actual.dataType), expected \(expected.dataType)")
        }
        guard actual.shape == expected.shape else {
            throw Mismatch("\(name): shape \(actual.shape), expected \(expected.shape)")
        }
        if actual.dataType.isFloatingPoint {
            for i in 0..<actual.count {
                let (a, e) = (Double(actual.int64OrDouble(at: i)), Double(expected.int64OrDouble(at: i)))
                if a.isNaN && e.isNaN { continue }
                if a == e { continue }
                guard abs(a - e) <= 1e-5 + 1e-4 * abs(e) else {
                    throw Mismatch("\(name): element \(i) is \(a), expected \(e)")
                }
            }
        } else {
            guard actual.data == expected.data else { throw Mismatch("\(name): values differ") }
        }
    }

    struct Mismatch: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
