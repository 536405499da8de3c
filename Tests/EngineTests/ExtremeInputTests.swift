import Dispatch
import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// Every op that reads sizes, indices or axes from tensor data gets extreme values for them: each
/// run ends in outputs or an EngineError, never a trap (a client chooses these tensors).
final class ExtremeInputTests: XCTestCase {
    private static let extremes: [Int64] = [0, 1, -1, 2, -2, 3, 1 << 31, -(1 << 31), 1 << 40, -(1 << 40), Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]

    /// An op with a float data input (or none) and int64 inputs filled from `values`.
    private struct Case {
        let opType: String
        let dataShape: [Int]?
        /// Element counts of the int64 inputs after the data.
        let intInputs: [Int]
        var attributes: [Onnx_AttributeProto] = []
        var outputs = 1
    }

    private let cases: [Case] = [
        Case(opType: "Slice", dataShape: [3, 4], intInputs: [2, 2, 2, 2]),
        Case(opType: "Slice", dataShape: [5], intInputs: [1, 1, 1, 1]),
        Case(opType: "Gather", dataShape: [3, 4], intInputs: [3]),
        Case(opType: "Gather", dataShape: [3, 4], intInputs: [2], attributes: [ModelBuilder.int("axis", 1)]),
        Case(opType: "Pad", dataShape: [2, 3], intInputs: [4]),
        Case(opType: "Tile", dataShape: [2, 3], intInputs: [2]),
        Case(opType: "Expand", dataShape: [1, 3], intInputs: [2]),
        Case(opType: "Expand", dataShape: [1, 3], intInputs: [3]),
        Case(opType: "Reshape", dataShape: [2, 6], intInputs: [2]),
        Case(opType: "Reshape", dataShape: [0, 6], intInputs: [3]),
        Case(opType: "ConstantOfShape", dataShape: nil, intInputs: [2]),
        Case(opType: "ConstantOfShape", dataShape: nil, intInputs: [3]),
        Case(opType: "Split", dataShape: [6, 2], intInputs: [2], outputs: 2),
        Case(opType: "Squeeze", dataShape: [1, 3, 1], intInputs: [2]),
        Case(opType: "Unsqueeze", dataShape: [3], intInputs: [2]),
        Case(opType: "ReduceSum", dataShape: [2, 3], intInputs: [2]),
        Case(opType: "Resize", dataShape: [1, 1, 2, 2], intInputs: [4]),   // sizes (X, roi, scales omitted)
    ]

    func testExtremeIndexSizeAndAxisValuesNeverTrap() throws {
        var random = TestRandom(seed: 3)
        func pick() -> Int64 { Self.extremes[min(Self.extremes.count - 1, Int((random.next() + 1) / 2 * Float(Self.extremes.count)))] }
        var outcomes = (ran: 0, rejected: 0)
        for testCase in cases {
            let plan = try plan(for: testCase)
            for trial in 0..<150 {
                var feeds: [String: Tensor] = [:]
                if let shape = testCase.dataShape {
                    let count = shape.reduce(1, *)
                    feeds["data"] = Tensor(shape: shape, floats: (0..<count).map(Float.init))
                }
                for (index, count) in testCase.intInputs.enumerated() {
                    // Mostly small sensible values with one extreme, sometimes all extreme.
                    let values = (0..<count).map { i -> Int64 in trial % 3 == 0 || i == trial % count ? pick() : Int64(i % 3) }
                    feeds["i\(index)"] = Tensor(shape: [count], int64s: values)
                }
                do {
                    _ = try plan.run(feeds, limits: RunLimits(deadline: .now() + .seconds(5), maxBytes: 64 << 20))
                    outcomes.ran += 1
                } catch is EngineError {
                    outcomes.rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(outcomes.rejected, 0)
        print("extreme inputs: \(outcomes.ran) ran, \(outcomes.rejected) rejected with an error")
    }

    func testExtremeRangeBoundsNeverTrap() throws {
        for type: Int32 in [6, 7] {
            var model = ModelBuilder()
            for name in ["start", "limit", "delta"] { model.input(name, [], type: type) }
            model.output("y", ["N"], type: type)
            model.node("Range", ["start", "limit", "delta"], ["y"])
            let plan = try model.plan()
            for start in Self.extremes {
                for limit in Self.extremes {
                    for delta in Self.extremes {
                        let scalar = { (value: Int64) in
                            type == 7 ? Tensor(shape: [], int64s: [value]) : Tensor(shape: [], int32s: [Int32(truncatingIfNeeded: value)])
                        }
                        _ = try? plan.run(["start": scalar(start), "limit": scalar(limit), "delta": scalar(delta)],
                                          limits: RunLimits(maxBytes: 64 << 20))
                    }
                }
            }
        }
    }

    func testExtremeFloatValuesThroughResizeAndCastNeverTrap() throws {
        let values: [Float] = [.nan, .infinity, -.infinity, 1e30, -1e30, 0, -0.0, 1e-30, .greatestFiniteMagnitude]
        var model = ModelBuilder()
        model.input("x", [1, 1, 2, 2])
        model.input("roi", [8])
        model.input("scales", [4])
        model.output("y", ["A", "B", "C", "D"])
        var mode = Onnx_AttributeProto()
        (mode.name, mode.type, mode.s) = ("coordinate_transformation_mode", .string, Data("tf_crop_and_resize".utf8))
        model.node("Resize", ["x", "roi", "scales"], ["y"], attributes: [mode])
        let plan = try model.plan()
        for value in values {
            for scale in [Float(2), value] {
                let roi = Tensor(shape: [8], floats: [0, 0, value, 0, 1, 1, 1, value])
                _ = try? plan.run(["x": Tensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4]), "roi": roi,
                                   "scales": Tensor(shape: [4], floats: [1, 1, scale, 2])], limits: RunLimits(maxBytes: 64 << 20))
            }
        }
    }

    private func plan(for testCase: Case) throws -> Plan {
        var model = ModelBuilder()
        var names: [String] = []
        if let shape = testCase.dataShape {
            model.input("data", shape.indices.map { .symbolic("d\($0)") })
            names.append("data")
        }
        if testCase.opType == "Resize" { names += ["", ""] }
        for (index, count) in testCase.intInputs.enumerated() {
            model.input("i\(index)", [.fixed(count)], type: 7)
            names.append("i\(index)")
        }
        let outputs = (0..<testCase.outputs).map { "y\($0)" }
        for name in outputs { model.outputs.append(ModelBuilder.valueInfo(name, 1, [])) }
        model.node(testCase.opType, names, outputs, attributes: testCase.attributes)
        return try model.plan()
    }
}
