import ONNXProto
import Foundation
import XCTest
@testable import Engine

/// Running plans: input validation, symbolic batch sizes, folding, fusion, threads.
final class RunTests: XCTestCase {
    /// x [N, 3] · W [3, 2] + b, then Relu.
    private func denseModel() -> ModelBuilder {
        var model = ModelBuilder()
        model.input("x", ["N", 3])
        model.output("y", ["N", 2])
        model.initializer("W", [3, 2], floats: [1, -1, 2, 0.5, -3, 1])
        model.initializer("b", [2], floats: [0.5, -0.5])
        model.node("MatMul", ["x", "W"], ["xw"])
        model.node("Add", ["xw", "b"], ["z"])
        model.node("Relu", ["z"], ["y"])
        return model
    }

    private func runError(_ plan: Plan, _ inputs: [String: Tensor]) -> EngineError? {
        do {
            _ = try plan.run(inputs)
            XCTFail("run succeeded")
            return nil
        } catch {
            return error as? EngineError
        }
    }

    func testDynamicBatch() throws {
        let plan = try denseModel().plan()
        XCTAssertEqual(plan.inputs.first?.shape, [.symbolic("N"), .fixed(3)])
        for batch in [1, 5] {
            let x = Tensor(shape: [batch, 3], floats: Array(repeating: 1, count: 3 * batch))
            let y = try XCTUnwrap(try plan.run(["x": x])["y"])
            XCTAssertEqual(y.shape, [batch, 2])
            XCTAssertEqual(Array(y.floatArray().prefix(2)), [0.5, 0])   // [0, 0.5] + [0.5, -0.5], relu
        }
    }

    func testInputValidation() throws {
        let plan = try denseModel().plan()
        XCTAssertEqual(runError(plan, [:]), .missingInput(name: "x"))
        let x = Tensor(shape: [1, 3], floats: [1, 2, 3])
        XCTAssertEqual(runError(plan, ["x": x, "extra": x]), .unknownInput(name: "extra", known: ["x"]))
        XCTAssertEqual(runError(plan, ["x": Tensor(shape: [1, 3], int64s: [1, 2, 3])]),
                       .inputTypeMismatch(name: "x", expected: .float, got: .int64))
        XCTAssertEqual(runError(plan, ["x": Tensor(shape: [1, 4], floats: [1, 2, 3, 4])]),
                       .inputShapeMismatch(name: "x", expected: "[N, 3]", got: [1, 4]))
        XCTAssertEqual(runError(plan, ["x": Tensor(shape: [3], floats: [1, 2, 3])]),
                       .inputShapeMismatch(name: "x", expected: "[N, 3]", got: [3]))
    }

    func testKernelErrorNamesTheNode() throws {
        var model = ModelBuilder()
        model.input("a", ["N", "K"])
        model.input("b", ["K", "M"])
        model.output("c", ["N", "M"])
        model.node("MatMul", ["a", "b"], ["c"], name: "product")
        let plan = try model.plan()
        let error = runError(plan, ["a": Tensor(shape: [2, 3], floats: Array(repeating: 1, count: 6)),
                                    "b": Tensor(shape: [4, 2], floats: Array(repeating: 1, count: 8))])
        guard case .invalidInput(let node, let opType, let reason)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual([node, opType], ["product", "MatMul"])
        XCTAssertTrue(reason.contains("[2, 3]"), reason)
    }

    func testConstantSubgraphsAreFolded() throws {
        // A PyTorch-style flatten through the shape: Shape → Gather → Unsqueeze → Concat → Reshape.
        var model = ModelBuilder()
        model.input("x", [2, 3, 4])
        model.output("y", [2, 12])
        model.initializer("table", [2, 3, 4], floats: Array(repeating: 0, count: 24))
        model.initializer("zero", [], int64s: [0])
        model.initializer("minus_one", [1], int64s: [-1])
        model.initializer("axes", [1], int64s: [0])
        model.node("Shape", ["table"], ["shape"])
        model.node("Gather", ["shape", "zero"], ["batch"])
        model.node("Unsqueeze", ["batch", "axes"], ["batch1"])
        model.node("Concat", ["batch1", "minus_one"], ["target"], attributes: [ModelBuilder.int("axis", 0)])
        model.node("Reshape", ["x", "target"], ["y"])
        let plan = try model.plan()
        XCTAssertEqual(plan.stepOpTypes, ["Reshape"])
        let y = try XCTUnwrap(try plan.run(["x": Tensor(shape: [2, 3, 4], floats: (0..<24).map(Float.init))])["y"])
        XCTAssertEqual(y.shape, [2, 12])
        XCTAssertEqual(y.floatArray(), (0..<24).map(Float.init))
    }

    func testActivationFusionKeepsResults() throws {
        var random = TestRandom(seed: 3)
        let weights = random.floats(8 * 3 * 3 * 3), bias = random.floats(8)
        func convModel(exposeIntermediate: Bool) -> ModelBuilder {
            var model = ModelBuilder()
            model.input("x", ["N", 3, 9, 9])
            model.output("y", ["N", 8, 9, 9])
            if exposeIntermediate { model.output("pre", ["N", 8, 9, 9]) }
            model.initializer("w", [8, 3, 3, 3], floats: weights)
            model.initializer("b", [8], floats: bias)
            model.node("Conv", ["x", "w", "b"], ["pre"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])])
            model.node("Relu", ["pre"], ["y"])
            return model
        }
        let fused = try convModel(exposeIntermediate: false).plan()
        let unfused = try convModel(exposeIntermediate: true).plan()
        XCTAssertEqual(fused.stepOpTypes, ["Conv+Relu"])
        XCTAssertEqual(unfused.stepOpTypes, ["Conv", "Relu"])
        let x = Tensor(shape: [2, 3, 9, 9], floats: random.floats(2 * 3 * 81))
        let a = try XCTUnwrap(try fused.run(["x": x])["y"]).floatArray()
        let b = try XCTUnwrap(try unfused.run(["x": x])["y"]).floatArray()
        XCTAssertEqual(a, b)
        XCTAssertTrue(a.contains(0) && a.contains { $0 > 0 }, "the test data should exercise both sides of Relu")
    }

    /// An activation after Add/Mul runs inside the arithmetic, a stretch at a time, on each of its loops: same
    /// shapes, a short period (NHWC channels), broadcast runs (NCHW channels), both operand orders, and outputs
    /// longer than one stretch. Answers equal the two-pass plan's bit for bit.
    func testActivationFusedIntoArithmeticKeepsResults() throws {
        let cases: [(op: String, a: [Int], b: [Int], activation: String)] = [
            ("Add", [2, 8, 30, 30], [2, 8, 30, 30], "Relu"),
            ("Mul", [2, 64, 9, 9], [1, 64, 1, 1], "Relu"),
            ("Mul", [1, 64, 1, 1], [3, 64, 7, 7], "Sigmoid"),
            ("Sub", [2, 20, 20, 12], [12], "Relu"),
            ("Div", [5], [4, 3, 700, 5], "Tanh"),
        ]
        for (op, aShape, bShape, activation) in cases {
            let outShape = zip([Int](repeating: 1, count: 4 - aShape.count) + aShape,
                               [Int](repeating: 1, count: 4 - bShape.count) + bShape).map { max($0, $1) }
            func model(exposeIntermediate: Bool) -> ModelBuilder {
                var model = ModelBuilder()
                model.input("a", aShape.map { .fixed($0) })
                model.input("b", bShape.map { .fixed($0) })
                model.output("y", outShape.map { .fixed($0) })
                if exposeIntermediate { model.output("pre", outShape.map { .fixed($0) }) }
                model.node(op, ["a", "b"], ["pre"])
                model.node(activation, ["pre"], ["y"])
                return model
            }
            let fused = try model(exposeIntermediate: false).plan()
            let unfused = try model(exposeIntermediate: true).plan()
            XCTAssertEqual(fused.stepOpTypes, ["\(op)+\(activation)"])
            XCTAssertEqual(unfused.stepOpTypes, [op, activation])
            var random = TestRandom(seed: 41)
            let feeds = ["a": Tensor(shape: aShape, floats: random.floats(aShape.reduce(1, *)).map { $0 + 0.25 }),
                         "b": Tensor(shape: bShape, floats: random.floats(bShape.reduce(1, *)).map { $0 + 0.25 })]
            let y = try XCTUnwrap(try fused.run(feeds)["y"]).floatArray()
            XCTAssertEqual(y, try XCTUnwrap(try unfused.run(feeds)["y"]).floatArray(), "\(op) \(aShape) \(bShape)")
            XCTAssertGreaterThan(y.count, 4096, "one case at least should cross a stretch")
            if activation == "Relu" {
                XCTAssertTrue(y.contains(0) && y.contains { $0 > 0 }, "the data should exercise both sides of Relu")
            }
        }
    }

    /// Relu takes floats only; fused into an integer Add it refuses the input as the lone Relu would.
    func testActivationFusedIntoIntegerArithmeticIsRefused() throws {
        var model = ModelBuilder()
        model.input("a", [2], type: 7)
        model.output("y", [2], type: 7)
        model.node("Add", ["a", "a"], ["s"])
        model.node("Relu", ["s"], ["y"])
        let plan = try model.plan()
        XCTAssertEqual(plan.stepOpTypes, ["Add+Relu"])
        XCTAssertThrowsError(try plan.run(["a": Tensor(shape: [2], int64s: [1, -2])])) { error in
            XCTAssertTrue("\(error)".contains("must be float"), "\(error)")
        }
    }

    func testPrepackedWeightsMatchWeightsGivenAtRunTime() throws {
        var random = TestRandom(seed: 11)
        let weights = random.floats(12 * 4 * 3 * 3)
        var constant = ModelBuilder()
        constant.input("x", [1, 8, 10, 10])
        constant.output("y", [1, 12, 8, 8])
        constant.initializer("w", [12, 4, 3, 3], floats: weights)
        constant.node("Conv", ["x", "w"], ["y"], attributes: [ModelBuilder.int("group", 2)])
        var dynamic = ModelBuilder()
        dynamic.input("x", [1, 8, 10, 10])
        dynamic.input("w", [12, 4, 3, 3])
        dynamic.output("y", [1, 12, 8, 8])
        dynamic.node("Conv", ["x", "w"], ["y"], attributes: [ModelBuilder.int("group", 2)])
        let x = Tensor(shape: [1, 8, 10, 10], floats: random.floats(800))
        let a = try XCTUnwrap(try constant.plan().run(["x": x])["y"]).floatArray()
        let b = try XCTUnwrap(try dynamic.plan().run(["x": x, "w": Tensor(shape: [12, 4, 3, 3], floats: weights)])["y"]).floatArray()
        assertClose(a, b, tolerance: 1e-5)
    }

    func testDenseLayersWithPackedWeightsMatchWeightsGivenAtRunTime() throws {
        var random = TestRandom(seed: 12)
        let weights = random.floats(20 * 30), bias = random.floats(20)
        func model(constant: Bool, op: String) -> ModelBuilder {
            var model = ModelBuilder()
            model.input("x", ["N", 30])
            model.output("y", ["N", 20])
            if constant {
                model.initializer("w", op == "Gemm" ? [20, 30] : [30, 20], floats: weights)
            } else {
                model.input("w", op == "Gemm" ? [20, 30] : [30, 20])
            }
            model.initializer("b", [20], floats: bias)
            if op == "Gemm" {
                model.node("Gemm", ["x", "w", "b"], ["y"], attributes: [ModelBuilder.int("transB", 1), ModelBuilder.float("alpha", 0.5)])
            } else {
                model.node("MatMul", ["x", "w"], ["y"])
            }
            return model
        }
        for op in ["Gemm", "MatMul"] {
            for batch in [1, 7] {
                let x = Tensor(shape: [batch, 30], floats: random.floats(batch * 30))
                let w = Tensor(shape: op == "Gemm" ? [20, 30] : [30, 20], floats: weights)
                let packed = try XCTUnwrap(try model(constant: true, op: op).plan().run(["x": x])["y"]).floatArray()
                let plain = try XCTUnwrap(try model(constant: false, op: op).plan().run(["x": x, "w": w])["y"]).floatArray()
                assertClose(packed, plain, tolerance: 1e-5, "\(op) batch \(batch)")
            }
        }
    }

    func testBatchedConvolutionMatchesOneImageAtATime() throws {
        // Batches of small maps run as one wide GEMM; single images take the banded path.
        var random = TestRandom(seed: 13)
        for (stride, group) in [(1, 1), (2, 1), (2, 2)] {
            var model = ModelBuilder()
            let side: Int = (9 + 2 - 3) / stride + 1
            let perGroup: Int = 4 / group
            model.input("x", ["N", 4, 9, 9])
            model.output("y", ["N", 6, .fixed(side), .fixed(side)])
            model.initializer("w", [6, perGroup, 3, 3], floats: random.floats(6 * perGroup * 9))
            model.initializer("b", [6], floats: random.floats(6))
            model.node("Conv", ["x", "w", "b"], ["y"], attributes: [
                ModelBuilder.ints("pads", [1, 1, 1, 1]), ModelBuilder.ints("strides", [stride, stride]), ModelBuilder.int("group", group),
            ])
            let plan = try model.plan()
            let images = (0..<5).map { _ in random.floats(4 * 81) }
            let batched = try XCTUnwrap(try plan.run(["x": Tensor(shape: [5, 4, 9, 9], floats: images.flatMap { $0 })])["y"]).floatArray()
            let single = try images.flatMap { try XCTUnwrap(try plan.run(["x": Tensor(shape: [1, 4, 9, 9], floats: $0)])["y"]).floatArray() }
            assertClose(batched, single, tolerance: 1e-5, "stride \(stride) group \(group)")
        }
    }

    func testConvTransposeBatchedAndPackedMatchesPlain() throws {
        var random = TestRandom(seed: 14)
        for group in [1, 2] {
            let weights = random.floats(4 * 3 * 3 * 3)
            func model(constant: Bool) -> ModelBuilder {
                var model = ModelBuilder()
                model.input("x", ["N", 4, 5, 5])
                model.output("y", ["N", .fixed(3 * group), 11, 11])
                if constant { model.initializer("w", [4, 3, 3, 3], floats: weights) } else { model.input("w", [4, 3, 3, 3]) }
                model.node("ConvTranspose", ["x", "w"], ["y"], attributes: [
                    ModelBuilder.ints("strides", [2, 2]), ModelBuilder.int("group", group),
                ])
                return model
            }
            let images = (0..<6).map { _ in random.floats(100) }
            let w = Tensor(shape: [4, 3, 3, 3], floats: weights)
            let batched = try XCTUnwrap(try model(constant: true).plan().run(["x": Tensor(shape: [6, 4, 5, 5], floats: images.flatMap { $0 })])["y"])
            let plain = try model(constant: false).plan()
            let single = try images.flatMap { try XCTUnwrap(try plain.run(["x": Tensor(shape: [1, 4, 5, 5], floats: $0), "w": w])["y"]).floatArray() }
            assertClose(batched.floatArray(), single, tolerance: 1e-5, "group \(group)")
        }
    }

    func testConcurrentRunsShareThePlanAndAgree() throws {
        var random = TestRandom(seed: 5)
        var model = ModelBuilder()
        model.input("x", ["N", 4, 12, 12])
        model.output("y", ["N", 10])
        model.initializer("w1", [16, 4, 3, 3], floats: random.floats(16 * 36))
        model.initializer("b1", [16], floats: random.floats(16))
        model.initializer("w2", [10, 16 * 36], floats: random.floats(10 * 576))
        model.node("Conv", ["x", "w1", "b1"], ["c"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])])
        model.node("Relu", ["c"], ["r"])
        model.node("MaxPool", ["r"], ["p"], attributes: [ModelBuilder.ints("kernel_shape", [2, 2]), ModelBuilder.ints("strides", [2, 2])])
        model.node("Flatten", ["p"], ["f"])
        model.node("Gemm", ["f", "w2"], ["y"], attributes: [ModelBuilder.int("transB", 1)])
        let plan = try model.plan()
        let inputs = (0..<8).map { _ in Tensor(shape: [3, 4, 12, 12], floats: random.floats(3 * 4 * 144)) }
        let expected = try inputs.map { try XCTUnwrap(try plan.run(["x": $0])["y"]).floatArray() }
        let mismatches = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            let workspace = Workspace()
            for round in 0..<25 {
                let index = (thread + round) % inputs.count
                let result = try? plan.run(["x": inputs[index]], workspace: workspace)["y"]?.floatArray()
                if result != expected[index] { mismatches.increment() }
            }
        }
        XCTAssertEqual(mismatches.value, 0)
    }

    func testWorkspaceRecyclesIntermediates() throws {
        var model = ModelBuilder()
        model.input("x", [64, 3])
        model.output("y", [64, 3])
        model.node("Exp", ["x"], ["e"])
        model.node("Log", ["e"], ["y"])
        let plan = try model.plan()
        let workspace = Workspace()
        let x = Tensor(shape: [64, 3], floats: Array(repeating: 1, count: 192))
        _ = try plan.run(["x": x], workspace: workspace)
        XCTAssertEqual(workspace.pooledByteCount, 64 * 3 * 4, "Exp's result dies inside the run")
        _ = try plan.run(["x": x], workspace: workspace)
        XCTAssertEqual(workspace.pooledByteCount, 64 * 3 * 4, "the second run reuses it instead of allocating")
    }

    func testTraceReportsShapesAndFLOPs() throws {
        let plan = try denseModel().plan()
        var records: [Plan.StepRecord] = []
        _ = try plan.trace(["x": Tensor(shape: [4, 3], floats: Array(repeating: 1, count: 12))]) { records.append($0) }
        XCTAssertEqual(records.map(\.opType), ["MatMul+Add+Relu"])
        XCTAssertEqual(records.first?.outputShapes, [[4, 2]])
        XCTAssertEqual(records.first?.estimatedFLOPs, 2 * 4 * 2 * 3)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}

/// Graph-level optimisations keep results: BatchNormalization folded into Conv, MatMul + Add fused.
final class FoldingTests: XCTestCase {
    func testBatchNormalizationFoldsIntoConv() throws {
        var random = TestRandom(seed: 21)
        func model(foldable: Bool) -> ModelBuilder {
            var model = ModelBuilder()
            model.input("x", [2, 3, 6, 6])
            model.output("y", [2, 4, 6, 6])
            if !foldable { model.output("c", [2, 4, 6, 6]) }   // a second reader blocks the fold
            var local = TestRandom(seed: 9)
            model.initializer("w", [4, 3, 3, 3], floats: local.floats(108))
            model.initializer("b", [4], floats: local.floats(4))
            model.initializer("gamma", [4], floats: [1.5, 0.5, -1, 2])
            model.initializer("beta", [4], floats: local.floats(4))
            model.initializer("mean", [4], floats: local.floats(4))
            model.initializer("var", [4], floats: [0.5, 1, 2, 0.25])
            model.node("Conv", ["x", "w", "b"], ["c"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])])
            model.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"])
            model.node("Relu", ["n"], ["y"])
            return model
        }
        let folded = try model(foldable: true).plan(), unfolded = try model(foldable: false).plan()
        XCTAssertEqual(folded.stepOpTypes, ["Conv+Relu"])
        XCTAssertEqual(unfolded.stepOpTypes, ["Conv", "BatchNormalization", "Relu"])
        let x = Tensor(shape: [2, 3, 6, 6], floats: random.floats(216))
        let a = try XCTUnwrap(try folded.run(["x": x])["y"]).floatArray()
        let b = try XCTUnwrap(try unfolded.run(["x": x])["y"]).floatArray()
        assertClose(a, b, tolerance: 1e-5)
    }

    func testBatchNormalizationFoldsIntoConvTransposeAndMatMul() throws {
        var random = TestRandom(seed: 23)
        let parameters = (random.floats(5).map { $0 + 1.5 }, random.floats(5), random.floats(5), random.floats(5).map { $0 + 1.2 })
        func model(_ layer: String, foldable: Bool) -> ModelBuilder {
            var model = ModelBuilder()
            var local = TestRandom(seed: 31)
            if layer == "MatMul" {
                model.input("x", ["N", 4])
                model.output("y", ["N", 5])
                model.initializer("w", [4, 5], floats: local.floats(20))
                model.node("MatMul", ["x", "w"], ["c"])
            } else {
                model.input("x", ["N", 3, 4, 4])
                model.output("y", ["N", 5, 8, 8])
                model.initializer("w", [3, 5, 2, 2], floats: local.floats(60))
                model.initializer("b", [5], floats: local.floats(5))
                model.node("ConvTranspose", ["x", "w", "b"], ["c"], attributes: [ModelBuilder.ints("strides", [2, 2])])
            }
            if !foldable { model.output("c", layer == "MatMul" ? ["N", 5] : ["N", 5, 8, 8]) }
            model.initializer("gamma", [5], floats: parameters.0)
            model.initializer("beta", [5], floats: parameters.1)
            model.initializer("mean", [5], floats: parameters.2)
            model.initializer("var", [5], floats: parameters.3)
            model.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"])
            model.node("Relu", ["n"], ["y"])
            return model
        }
        for (layer, fused) in [("MatMul", "MatMul+Add+Relu"), ("ConvTranspose", "ConvTranspose+Relu")] {
            let folded = try model(layer, foldable: true).plan(), unfolded = try model(layer, foldable: false).plan()
            XCTAssertEqual(folded.stepOpTypes, [fused])
            XCTAssertEqual(unfolded.stepOpTypes.count, 3)
            let shape = layer == "MatMul" ? [3, 4] : [3, 3, 4, 4]
            let x = Tensor(shape: shape, floats: random.floats(shape.reduce(1, *)))
            let a = try XCTUnwrap(try folded.run(["x": x])["y"]).floatArray()
            let b = try XCTUnwrap(try unfolded.run(["x": x])["y"]).floatArray()
            assertClose(a, b, tolerance: 1e-5, layer)
        }
    }

    func testMatMulAddFusesTheBias() throws {
        var random = TestRandom(seed: 22)
        var model = ModelBuilder()
        model.input("x", ["N", 5, 8])
        model.output("y", ["N", 5, 3])
        let w = random.floats(24), b = random.floats(3)
        model.initializer("w", [8, 3], floats: w)
        model.initializer("b", [3], floats: b)
        model.node("MatMul", ["x", "w"], ["xw"])
        model.node("Add", ["b", "xw"], ["z"])
        model.node("Tanh", ["z"], ["y"])
        let plan = try model.plan()
        XCTAssertEqual(plan.stepOpTypes, ["MatMul+Add+Tanh"])
        let xs = random.floats(2 * 5 * 8)
        let y = try XCTUnwrap(try plan.run(["x": Tensor(shape: [2, 5, 8], floats: xs)])["y"]).floatArray()
        var expected: [Float] = []
        for row in 0..<10 {
            for j in 0..<3 {
                var sum = b[j]
                for k in 0..<8 { sum += xs[row * 8 + k] * w[k * 3 + j] }
                expected.append(tanh(sum))
            }
        }
        assertClose(y, expected, tolerance: 1e-5)
    }
}

/// Shapes computed from run-time data are checked, never trusted: absurd sizes are errors, not traps.
final class HostileShapeTests: XCTestCase {
    private func assertRejected(_ opType: String, _ inputs: [(String, Tensor)], attributes: [ONNXProtoAttribute] = [],
                                file: StaticString = #filePath, line: UInt = #line) throws {
        var model = ModelBuilder()
        for (name, tensor) in inputs { model.input(name, tensor.shape.map { .fixed($0) }, type: tensor.dataType.rawValue) }
        model.output("y", [1])
        model.node(opType, inputs.map(\.0), ["y"], name: "hostile", attributes: attributes)
        let plan = try model.plan()
        XCTAssertThrowsError(try plan.run(Dictionary(uniqueKeysWithValues: inputs)), file: file, line: line) { error in
            guard case .invalidInput(let node, _, _)? = error as? EngineError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(node, "hostile", file: file, line: line)
        }
    }

    func testAbsurdShapesAreRejected() throws {
        let huge = Tensor(shape: [3], int64s: [1 << 40, 1 << 40, 1 << 40])
        try assertRejected("ConstantOfShape", [("shape", huge)])
        try assertRejected("Expand", [("x", Tensor(shape: [1], floats: [1])), ("shape", huge)])
        try assertRejected("Tile", [("x", Tensor(shape: [2], floats: [1, 2])), ("repeats", Tensor(shape: [1], int64s: [.max]))])
        try assertRejected("Range", [("start", Tensor(scalar: 0)), ("limit", Tensor(scalar: 1e30)), ("delta", Tensor(scalar: 1e-30))])
        try assertRejected("Reshape", [("x", Tensor(shape: [4], floats: [1, 2, 3, 4])),
                                       ("shape", Tensor(shape: [3], int64s: [1 << 62, 1 << 62, -1]))])
        try assertRejected("Pad", [("x", Tensor(shape: [2], floats: [1, 2])), ("pads", Tensor(shape: [2], int64s: [.max, .max]))])
        try assertRejected("Gather", [("x", Tensor(shape: [2], floats: [1, 2])), ("i", Tensor(shape: [1], int64s: [7]))])
    }
}

typealias ONNXProtoAttribute = Onnx_AttributeProto
