import Foundation
import XCTest
@testable import Engine

/// Runs the models of `scripts/generate-ort-comparison-cases.py` — 3-d Conv, ConvTranspose and
/// pools, per-axis and per-channel quantized ops, and a small CNN and a 2-layer BERT-style encoder
/// quantized by onnxruntime.quantization (static QDQ and dynamic) — against onnxruntime's outputs, with each
/// case's tolerance (`tolerance.txt`: "atol rtol" for float outputs, a step count for integer ones).
final class ORTComparisonTests: XCTestCase {
    static func directory() throws -> URL {
        if let given = ProcessInfo.processInfo.environment["DEEPSERVE_ORT_CASES"] { return URL(fileURLWithPath: given) }
        let script = ONNXNodeTestSuite.packageRoot.appendingPathComponent("scripts/generate-ort-comparison-cases.py")
        let cache = ONNXNodeTestSuite.packageRoot.appendingPathComponent(".build/ort-comparison-cases")
        let made = FileManager.default.contents(atPath: cache.appendingPathComponent("generator.py").path)
        if made == nil || made != FileManager.default.contents(atPath: script.path) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", script.path, cache.path]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw ONNXNodeTestSuite.SuiteError("generating the onnxruntime cases failed (`pip install -r requirements-test.txt`)")
            }
        }
        return cache
    }

    func testOutputsMatchOnnxruntime() throws {
        let root = try Self.directory()
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix("ort_") }.sorted()
        XCTAssertGreaterThan(names.count, 30, "the generated cases look incomplete")
        var passed = 0
        for name in names {
            let directory = root.appendingPathComponent(name)
            do {
                let worst = try check(ONNXNodeTestSuite.Case(name: name, directory: directory, opTypes: []))
                print("\(name): largest difference \(worst)")
                passed += 1
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
        print("onnxruntime comparison: \(passed) of \(names.count) cases match")
    }

    /// Runs every data set; returns the largest absolute difference seen.
    private func check(_ testCase: ONNXNodeTestSuite.Case) throws -> Double {
        let tolerance: [Double] = try String(contentsOf: testCase.directory.appendingPathComponent("tolerance.txt"), encoding: .utf8)
            .split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let plan = try Plan(contentsOf: testCase.directory.appendingPathComponent("model.onnx"))
        var worst = 0.0
        for (index, set) in try ONNXNodeTestSuite.dataSets(testCase).enumerated() {
            var feeds: [String: Tensor] = [:]
            for (info, tensor) in zip(plan.inputs, set.inputs) { feeds[info.name] = tensor }
            let results = try plan.run(feeds)
            for (info, expected) in zip(plan.outputs, set.outputs) {
                guard let actual = results[info.name] else { throw ONNXNodeTestSuite.SuiteError("data set \(index): \(info.name) missing") }
                guard actual.dataType == expected.dataType, actual.shape == expected.shape else {
                    throw ONNXNodeTestSuite.SuiteError("data set \(index), \(info.name): \(actual), expected \(expected)")
                }
                let (a, e) = (actual.doubleArray(), expected.doubleArray())
                for i in a.indices {
                    let difference = abs(a[i] - e[i])
                    worst = max(worst, difference)
                    let relative = actual.dataType.isFloatingPoint && tolerance.count > 1 ? tolerance[1] : 0
                    let allowed = tolerance[0] + relative * abs(e[i])
                    guard difference <= allowed else {
                        throw ONNXNodeTestSuite.SuiteError("data set \(index), \(info.name): element \(i) is \(a[i]), onnxruntime \(e[i])")
                    }
                }
            }
        }
        return worst
    }
}
