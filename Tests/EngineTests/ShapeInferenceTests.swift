import Foundation
import XCTest
@testable import Engine

/// Static shape inference (`Plan.inferFacts`, the operators' `outputFacts` rules) against what runs produce, and on
/// symbolic dimensions, where no run can answer.
final class ShapeInferenceTests: XCTestCase {
    /// Checks every fact static inference states for `plan`'s outputs at the shapes of `feeds` against `results`, the
    /// outputs of running it on them: element type, rank, each fixed dimension and a known value must all agree.
    /// Returns how many outputs were inferred completely (type and every dimension).
    @discardableResult
    static func checkFacts(_ plan: Plan, feeds: [String: Tensor], results: [String: Tensor], _ label: String) throws -> Int {
        let facts = try plan.inferFacts(inputShapes: feeds.mapValues { $0.shape.map { .fixed($0) } })
        var complete = 0
        for output in plan.outputs {
            guard let fact = facts[output.name], let actual = results[output.name] else { continue }
            if let type = fact.dataType, type != actual.dataType {
                throw Failure("\(label): output \(output.name) inferred \(fact), ran \(actual.dataType) \(actual.shape)")
            }
            if let shape = fact.shape {
                guard shape.count == actual.rank, zip(shape, actual.shape).allSatisfy({ dim, size in dim.fixedValue.map { $0 == size } ?? true }) else {
                    throw Failure("\(label): output \(output.name) inferred \(fact), ran \(actual.dataType) \(actual.shape)")
                }
            }
            if let value = fact.value, value.data != actual.data {
                throw Failure("\(label): output \(output.name)'s inferred value differs from the run's")
            }
            if fact.dataType != nil, fact.fixedShape != nil { complete += 1 }
        }
        return complete
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private func plan(_ file: String) throws -> Plan {
        try Plan(contentsOf: ONNXNodeTestSuite.packageRoot.appendingPathComponent(file))
    }

    /// Every shipped network and both user models: inferred completely at fixed shapes, equal to a run's, and with a
    /// symbolic batch the batch stays named while the other dimensions are fixed.
    func testShippedAndUserModelsInferCompletely() throws {
        let files = ["models/mnist-cnn/1/model.onnx", "models/mnist-autoencoder/1/model.onnx",
                     "models/mnist-autoencoder/1/encoder.onnx", "models/mnist-autoencoder/1/decoder.onnx",
                     "models/mnist-gan/1/model.onnx", "models/shakespeare-lstm/1/model.onnx",
                     "Tests/Fixtures/user-models/keras-digits/1/model.onnx",
                     "Tests/Fixtures/user-models/keras-autoencoder/1/model.onnx"]
        for file in files {
            let plan = try plan(file)
            for size in [1, 3] {
                let feeds = plan.placeholderInputs(dynamicSize: size)
                let complete = try Self.checkFacts(plan, feeds: feeds, results: try plan.run(feeds), "\(file) at size \(size)")
                XCTAssertEqual(complete, plan.outputs.count, "\(file): every output inferred at size \(size)")
            }
            // Declared shapes: symbolic dimensions stay symbolic.
            for (name, fact) in try plan.inferFacts() {
                let shape = try XCTUnwrap(fact.shape, "\(file): \(name) has a rank")
                XCTAssertNotNil(fact.dataType, "\(file): \(name)")
                XCTAssertFalse(shape.contains(.unknown), "\(file): \(name) inferred \(fact)")
            }
        }
    }

    func testSymbolicBatchFlowsThroughAClassifier() throws {
        let plan = try plan("models/mnist-cnn/1/model.onnx")
        let input = try XCTUnwrap(plan.inputs.first)
        let facts = try plan.inferFacts(inputShapes: [input.name: [.symbolic("batch"), .fixed(1), .fixed(28), .fixed(28)]])
        let logits = try XCTUnwrap(facts[plan.outputs[0].name])
        XCTAssertEqual(logits.dataType, .float)
        XCTAssertEqual(logits.shape, [.symbolic("batch"), .fixed(10)])
        // Unknown spatial size: the batch is still named, and the classes still fixed after Flatten and Gemm would
        // need the spatial size, so only what is provable is stated.
        let open = try plan.inferFacts(inputShapes: [input.name: [.symbolic("batch"), .fixed(1), .unknown, .unknown]])
        XCTAssertEqual(open[plan.outputs[0].name]?.shape?.first, .symbolic("batch"))
    }

    /// tf2onnx's shape arithmetic (Shape → Gather → Unsqueeze → Concat → Reshape) computed through known values.
    func testShapeArithmeticIsEvaluatedThroughKnownValues() throws {
        var model = ModelBuilder()
        model.input("x", ["N", 4, 6])
        model.output("y", ["N", 24])
        model.initializer("zero", [], int64s: [0])
        model.initializer("flat", [1], int64s: [24])
        model.node("Shape", ["x"], ["shape"])
        model.node("Gather", ["shape", "zero"], ["batch"], attributes: [ModelBuilder.int("axis", 0)])
        model.initializer("axes", [1], int64s: [0])
        model.node("Unsqueeze", ["batch", "axes"], ["batch1"])
        model.node("Concat", ["batch1", "flat"], ["target"], attributes: [ModelBuilder.int("axis", 0)])
        model.node("Reshape", ["x", "target"], ["y"])
        let plan = try model.plan()
        // Fixed batch: the target shape is known, so the Reshape's output is fully fixed.
        let fixed = try plan.inferFacts(inputShapes: ["x": [.fixed(5), .fixed(4), .fixed(6)]])
        XCTAssertEqual(fixed["y"]?.shape, [.fixed(5), .fixed(24)])
        // Symbolic batch: the value is not known, the rank is.
        let symbolic = try plan.inferFacts()
        XCTAssertEqual(symbolic["y"]?.shape?.count, 2)
        XCTAssertEqual(symbolic["y"]?.dataType, .float)
    }

    func testReshapeKeepsANamedDimensionThroughMinusOne() throws {
        var model = ModelBuilder()
        model.input("x", ["N", 8, 4])
        model.output("y", ["N", 32])
        model.initializer("target", [2], int64s: [0, -1])
        model.node("Reshape", ["x", "target"], ["y"])
        model.initializer("back", [3], int64s: [-1, 8, 4])
        model.node("Reshape", ["y", "back"], ["z"])
        model.output("z", ["N", 8, 4])
        let facts = try model.plan().inferFacts()
        XCTAssertEqual(facts["y"]?.shape, [.symbolic("N"), .fixed(32)])
        XCTAssertEqual(facts["z"]?.shape, [.symbolic("N"), .fixed(8), .fixed(4)])
    }

    /// A model whose shapes cannot fit fails inference at the node that proves it, whatever the batch.
    func testMismatchedShapesAreReportedAtTheirNode() throws {
        var model = ModelBuilder()
        model.input("x", ["N", 3, 8, 8])
        model.output("y", ["N", 4, 6, 6])
        model.initializer("w", [4, 2, 3, 3], floats: Array(repeating: 0.1, count: 72))
        model.node("Conv", ["x", "w"], ["y"], name: "stem")
        let plan = try model.plan()
        XCTAssertThrowsError(try plan.inferFacts()) { error in
            guard case EngineError.invalidInput(let node, let opType, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(node, "stem")
            XCTAssertEqual(opType, "Conv")
        }
        XCTAssertThrowsError(try plan.inferFacts(inputShapes: ["y": [.fixed(1)]])) { error in
            guard case EngineError.unknownInput = error else { return XCTFail("\(error)") }
        }
    }

    /// Broadcasting on facts: a fixed size wins over a name (which can then only be 1 or that size), two names make
    /// an unknown, fixed sizes that differ are an error.
    func testBroadcastingFacts() throws {
        XCTAssertEqual(try FactBroadcast.shape([[.symbolic("N"), .fixed(1)], [.fixed(5)]]), [.symbolic("N"), .fixed(5)])
        XCTAssertEqual(try FactBroadcast.shape([[.symbolic("N")], [.fixed(7)]]), [.fixed(7)])
        XCTAssertEqual(try FactBroadcast.shape([[.symbolic("N")], [.symbolic("M")]]), [.unknown])
        XCTAssertEqual(try FactBroadcast.shape([[.symbolic("N")], [.symbolic("N")]]), [.symbolic("N")])
        XCTAssertThrowsError(try FactBroadcast.shape([[.fixed(3)], [.fixed(4)]]))
    }

    /// An operator whose output size depends on the data states what it can: NonZero the rank of its input, then
    /// unknown. GatherND's comes from the shapes alone.
    func testDataDependentSizesStayUnknown() throws {
        var model = ModelBuilder()
        model.input("x", [2, 3])
        model.initializer("picks", [2, 2], int64s: [0, 0, 1, 2])
        model.node("GatherND", ["x", "picks"], ["y"])
        model.node("NonZero", ["x"], ["z"])
        model.output("y", [2])
        model.output("z", [2, "found"])
        var ruleless: [String] = []
        let facts = try model.plan().inferFacts { step in if !step.hasRule { ruleless.append(step.opType) } }
        XCTAssertEqual(ruleless, [])
        XCTAssertEqual(facts["y"]?.shape, [.fixed(2)])
        XCTAssertEqual(facts["z"]?.shape, [.fixed(2), .unknown])
        XCTAssertEqual(facts["z"]?.dataType, .int64)
    }

    /// tf2onnx declares outputs with made-up names (`unk__12`): the plan's outputs carry the dimensions inference
    /// proves, so a server's metadata and its label count check see `[unk__12, 10]`.
    func testPlanOutputsCarryInferredDimensions() throws {
        var model = ModelBuilder()
        model.input("x", ["N", 3])
        model.output("y", ["unk__1", "unk__2"])
        model.output("z", ["N", 7])
        model.initializer("w", [3, 10], floats: Array(repeating: 0.5, count: 30))
        model.node("MatMul", ["x", "w"], ["y"])
        model.initializer("v", [3, 7], floats: Array(repeating: 0.5, count: 21))
        model.node("MatMul", ["x", "v"], ["z"])
        let plan = try model.plan()
        XCTAssertEqual(plan.outputs.map(\.shape), [[.symbolic("unk__1"), .fixed(10)], [.symbolic("N"), .fixed(7)]])
        XCTAssertEqual(plan.outputs.map(\.name), ["y", "z"])
    }

    /// Declared sizes that no run could hold are refused by inference (and leave the declarations as they are)
    /// rather than overflowing the arithmetic of the rules.
    func testImpossibleDeclaredSizesAreRefused() throws {
        var model = ModelBuilder()
        model.input("x", [.fixed(1 << 40), .fixed(1 << 30)])
        model.output("y", [.fixed(1 << 40), .fixed(1 << 30)])
        model.node("Relu", ["x"], ["y"])
        let plan = try model.plan()
        XCTAssertThrowsError(try plan.inferFacts())
        XCTAssertEqual(plan.outputs[0].shape, [.fixed(1 << 40), .fixed(1 << 30)])
        XCTAssertEqual(try plan.inferFacts(inputShapes: ["x": [.fixed(4), .fixed(2)]])["y"]?.shape, [.fixed(4), .fixed(2)])
    }
}
