import XCTest
@testable import Engine

/// The graph rewrites (Plan/GraphRewriter.swift, Plan/Rewrites/) fire on the patterns exporters
/// write, and a rewritten plan answers as the same graph does when a second reader blocks them.
final class GraphRewriteTests: XCTestCase {
    /// Compiles the model `body` builds twice: with the standard rewrites, and with none (the
    /// graph as written; the compiler's own Conv+activation fusion still applies).
    private func plans(input: [ModelBuilder.Dim], output: [ModelBuilder.Dim], _ body: (inout ModelBuilder) -> Void) throws
        -> (rewritten: Plan, plain: Plan)
    {
        var model = ModelBuilder()
        model.input("x", input)
        model.output("y", output)
        body(&model)
        let data = try model.data()
        return (try Plan(modelData: data), try Plan(compiling: Graph(modelData: data, modelDirectory: nil), rules: []))
    }

    private func assertSameAnswers(_ pair: (rewritten: Plan, plain: Plan), shape: [Int], seed: UInt64,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        var random = TestRandom(seed: seed)
        let x = Tensor(shape: shape, floats: random.floats(shape.reduce(1, *)).map { $0 * 4 })
        let a = try XCTUnwrap(try pair.rewritten.run(["x": x])["y"]).floatArray()
        let b = try XCTUnwrap(try pair.plain.run(["x": x])["y"]).floatArray()
        assertClose(a, b, tolerance: 1e-5, file: file, line: line)
    }

    func testSpatialPadFoldsIntoTheConvAfterIt() throws {
        let pair = try plans(input: [1, 3, 7, 7], output: [1, 4, 4, 4]) { model in
            var random = TestRandom(seed: 3)
            model.initializer("w", [4, 3, 3, 3], floats: random.floats(108))
            model.initializer("pads", [8], int64s: [0, 0, 1, 0, 0, 0, 1, 1])
            model.node("Pad", ["x", "pads"], ["p"])
            model.node("Conv", ["p", "w"], ["y"], attributes: [ModelBuilder.ints("strides", [2, 2]), ModelBuilder.ints("pads", [0, 1, 0, 0])])
        }
        XCTAssertEqual(pair.rewritten.stepOpTypes, ["Conv"])
        XCTAssertEqual(pair.plain.stepOpTypes, ["Pad", "Conv"])
        try assertSameAnswers(pair, shape: [1, 3, 7, 7], seed: 4)
    }

    func testPadOfChannelsOrWithAFillValueStays() throws {
        for (pads, fill) in [([0, 1, 0, 0, 0, 0, 0, 0] as [Int64], Float(0)), ([0, 0, 1, 1, 0, 0, 1, 1], 0.5)] {
            var model = ModelBuilder()
            model.input("x", [1, 2, 5, 5])
            model.output("y", [1, 1, 3, 3])
            var random = TestRandom(seed: 5)
            let channels = pads[1] == 1 ? 3 : 2
            model.initializer("w", [1, channels, 3, 3], floats: random.floats(channels * 9))
            model.initializer("pads", [8], int64s: pads)
            model.initializer("fill", [], floats: [fill])
            model.node("Pad", ["x", "pads", "fill"], ["p"])
            model.node("Conv", ["p", "w"], ["y"], attributes: [ModelBuilder.ints("strides", [fill == 0 ? 1 : 2, fill == 0 ? 1 : 2])])
            XCTAssertEqual(try model.plan().stepOpTypes, ["Pad", "Conv"], "pads \(pads), fill \(fill)")
        }
    }

    /// TensorFlow's inference BatchNorm after a (depthwise) Conv: Mul by [1, C, 1, 1], Add of [C, 1, 1].
    func testChannelScaleAndShiftFoldIntoTheConv() throws {
        let pair = try plans(input: [2, 4, 6, 6], output: [2, 4, 6, 6]) { model in
            var random = TestRandom(seed: 7)
            model.initializer("w", [4, 1, 3, 3], floats: random.floats(36))
            model.initializer("scale", [1, 4, 1, 1], floats: [0.5, -2, 1.5, 3])
            model.initializer("shift", [4, 1, 1], floats: [0.1, -0.2, 0.3, 1])
            model.node("Conv", ["x", "w"], ["c"], attributes: [ModelBuilder.int("group", 4), ModelBuilder.ints("pads", [1, 1, 1, 1])])
            model.node("Mul", ["c", "scale"], ["m"])
            model.node("Add", ["shift", "m"], ["a"])
            model.node("Relu", ["a"], ["y"])
        }
        XCTAssertEqual(pair.rewritten.stepOpTypes, ["Conv+Relu"])
        XCTAssertEqual(pair.plain.stepOpTypes, ["Conv", "Mul", "Add+Relu"])
        try assertSameAnswers(pair, shape: [2, 4, 6, 6], seed: 8)
    }

    /// A ResNet block's tail: the residual Add (and the ReLU after it) goes into the Conv before it, in every
    /// convolution path (im2col bands, for one image and for two of 400 pixels, and several small images side by side
    /// with 2 channels' 18 taps, the direct kernel with 4 channels' 36, pointwise), whichever side of the Add the Conv
    /// is on. The GEMM paths copy each image's residual just before its products.
    func testResidualAddFoldsIntoTheConv() throws {
        for (shape, kernel, convFirst) in [([1, 2, 9, 9], 3, true), ([3, 2, 5, 5], 3, false), ([1, 4, 9, 9], 3, true),
                                           ([3, 4, 5, 5], 3, false), ([2, 4, 6, 6], 1, true), ([2, 2, 20, 20], 3, true)] {
            let c = shape[1]
            let pair = try plans(input: shape.map { .fixed($0) }, output: shape.map { .fixed($0) }) { model in
                var random = TestRandom(seed: 21)
                model.initializer("w1", [c, c, kernel, kernel], floats: random.floats(c * c * kernel * kernel))
                model.initializer("w2", [c, c, kernel, kernel], floats: random.floats(c * c * kernel * kernel))
                model.initializer("b2", [c], floats: random.floats(c))
                let pads = ModelBuilder.ints("pads", Array(repeating: (kernel - 1) / 2, count: 4))
                model.node("Conv", ["x", "w1"], ["h"], attributes: [pads])
                model.node("Relu", ["h"], ["r"])
                model.node("Conv", ["r", "w2", "b2"], ["c"], attributes: [pads])
                model.node("Add", convFirst ? ["c", "x"] : ["x", "c"], ["s"])
                model.node("Relu", ["s"], ["y"])
            }
            XCTAssertEqual(pair.rewritten.stepOpTypes, ["Conv+Relu", "Conv+Add+Relu"], "\(shape) k\(kernel)")
            XCTAssertEqual(pair.plain.stepOpTypes, ["Conv+Relu", "Conv", "Add+Relu"])
            try assertSameAnswers(pair, shape: shape, seed: 22)
        }
    }

    /// A residual that broadcasts (here [1, 4, 1, 1] onto the Conv's [2, 4, 5, 5]) still folds, and the kernel falls
    /// back to a broadcasting Add; a depthwise Conv's residual too.
    func testBroadcastOrDepthwiseResidualFallsBackToTheAdd() throws {
        for depthwise in [false, true] {
            var model = ModelBuilder()
            model.input("x", [2, 4, 5, 5])
            model.input("r", [1, 4, 1, 1])
            model.output("y", [2, 4, 5, 5])
            var random = TestRandom(seed: 23)
            model.initializer("w", depthwise ? [4, 1, 3, 3] : [4, 4, 3, 3], floats: random.floats(depthwise ? 36 : 144))
            model.node("Conv", ["x", "w"], ["c"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])] +
                       (depthwise ? [ModelBuilder.int("group", 4)] : []))
            model.node("Add", ["c", "r"], ["s"])
            model.node("Sigmoid", ["s"], ["y"])
            let data = try model.data()
            let rewritten = try Plan(modelData: data), plain = try Plan(compiling: Graph(modelData: data, modelDirectory: nil), rules: [])
            XCTAssertEqual(rewritten.stepOpTypes, ["Conv+Add+Sigmoid"])
            let x = Tensor(shape: [2, 4, 5, 5], floats: random.floats(200)), r = Tensor(shape: [1, 4, 1, 1], floats: random.floats(4))
            let a = try XCTUnwrap(try rewritten.run(["x": x, "r": r])["y"]).floatArray()
            let b = try XCTUnwrap(try plain.run(["x": x, "r": r])["y"]).floatArray()
            XCTAssertEqual(a.count, 200)
            assertClose(a, b, tolerance: 1e-6)
        }
    }

    /// A Conv output read by something besides the Add stays a plain Conv.
    func testSharedConvOutputKeepsItsAdd() throws {
        var model = ModelBuilder()
        model.input("x", [1, 2, 4, 4])
        model.output("y", [1, 2, 4, 4])
        model.output("c", [1, 2, 4, 4])
        var random = TestRandom(seed: 24)
        model.initializer("w", [2, 2, 1, 1], floats: random.floats(4))
        model.node("Conv", ["x", "w"], ["c"])
        model.node("Add", ["c", "x"], ["y"])
        XCTAssertEqual(try model.plan().stepOpTypes, ["Conv", "Add"])
    }

    func testAConstantThatIsNotPerChannelStaysAMul() throws {
        var model = ModelBuilder()
        model.input("x", [1, 2, 4, 4])
        model.output("y", [1, 2, 4, 4])
        var random = TestRandom(seed: 9)
        model.initializer("w", [2, 2, 1, 1], floats: random.floats(4))
        model.initializer("rowScale", [4, 1], floats: random.floats(4))   // varies along height, not channels
        model.node("Conv", ["x", "w"], ["c"])
        model.node("Mul", ["c", "rowScale"], ["y"])
        XCTAssertEqual(try model.plan().stepOpTypes, ["Conv", "Mul"])
    }

    /// PaddlePaddle writes weights and BatchNorm parameters as Constant nodes, not initializers.
    func testBatchNormalizationOnConstantNodesFolds() throws {
        let pair = try plans(input: [1, 2, 5, 5], output: [1, 3, 5, 5]) { model in
            var random = TestRandom(seed: 11)
            for (name, shape, values) in [("w", [3, 2, 3, 3], random.floats(54)), ("gamma", [3], [1.5, 0.5, -1]),
                                          ("beta", [3], random.floats(3)), ("mean", [3], random.floats(3)), ("var", [3], [0.5, 1, 2])] {
                var holder = ModelBuilder()
                holder.initializer(name, shape, floats: values)
                model.node("Constant", [], [name], attributes: [ModelBuilder.tensor("value", holder.initializers[0])])
            }
            model.node("Conv", ["x", "w"], ["c"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])])
            model.node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["y"])
        }
        XCTAssertEqual(pair.rewritten.stepOpTypes, ["Conv"])
        XCTAssertEqual(pair.plain.stepOpTypes, ["Conv", "BatchNormalization"])
        try assertSameAnswers(pair, shape: [1, 2, 5, 5], seed: 12)
    }

    /// The three spellings of HardSwish exporters write, each after a Conv: all become one fused step.
    func testHardSwishSpellingsFuseIntoTheConv() throws {
        let spellings: [(String, (inout ModelBuilder) -> Void)] = [
            ("PaddlePaddle: Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)", { model in
                model.node("Add", ["c", "three"], ["a"])
                model.node("Clip", ["a", "zero", "six"], ["r"])
                model.node("Mul", ["c", "r"], ["m"])
                model.node("Div", ["m", "six"], ["y"])
            }),
            ("Keras: Mul(x, Mul(Clip(Add(x, 3), 0, 6), 1/6))", { model in
                model.node("Add", ["three", "c"], ["a"])
                model.node("Clip", ["a", "zero", "six"], ["r"])
                model.node("Mul", ["r", "sixth"], ["t"])
                model.node("Mul", ["c", "t"], ["y"])
            }),
            ("Mul(HardSigmoid(x; 1/6, 1/2), x)", { model in
                model.node("HardSigmoid", ["c"], ["h"], attributes: [ModelBuilder.float("alpha", 1.0 / 6), ModelBuilder.float("beta", 0.5)])
                model.node("Mul", ["h", "c"], ["y"])
            }),
        ]
        for (label, spelling) in spellings {
            let pair = try plans(input: [1, 3, 5, 5], output: [1, 4, 5, 5]) { model in
                var random = TestRandom(seed: 13)
                model.initializer("w", [4, 3, 3, 3], floats: random.floats(108).map { $0 * 3 })
                model.initializer("three", [], floats: [3])
                model.initializer("zero", [], floats: [0])
                model.initializer("six", [], floats: [6])
                model.initializer("sixth", [], floats: [1.0 / 6])
                model.node("Conv", ["x", "w"], ["c"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])])
                spelling(&model)
            }
            XCTAssertEqual(pair.rewritten.stepOpTypes, ["Conv+HardSwish"], label)
            XCTAssertGreaterThan(pair.plain.stepOpTypes.count, 2, label)
            try assertSameAnswers(pair, shape: [1, 3, 5, 5], seed: 14)
        }
    }

    func testNearMissesAreNotHardSwish() throws {
        // x + 3 clipped to [0, 6] but multiplied by another value: not HardSwish.
        var model = ModelBuilder()
        model.input("x", [4])
        model.input("z", [4])
        model.output("y", [4])
        model.initializer("three", [], floats: [3])
        model.initializer("zero", [], floats: [0])
        model.initializer("six", [], floats: [6])
        model.node("Add", ["x", "three"], ["a"])
        model.node("Clip", ["a", "zero", "six"], ["r"])
        model.node("Mul", ["z", "r"], ["m"])
        model.node("Div", ["m", "six"], ["y"])
        XCTAssertEqual(try model.plan().stepOpTypes, ["Add+Clip", "Mul", "Div"])
    }

    func testSwishFusesIntoTheConv() throws {
        let pair = try plans(input: [1, 3, 5, 5], output: [1, 4, 5, 5]) { model in
            var random = TestRandom(seed: 15)
            model.initializer("w", [4, 3, 1, 1], floats: random.floats(12).map { $0 * 3 })
            model.node("Conv", ["x", "w"], ["c"])
            model.node("Sigmoid", ["c"], ["s"])
            model.node("Mul", ["c", "s"], ["y"])
        }
        XCTAssertEqual(pair.rewritten.stepOpTypes, ["Conv+SiLU"])
        XCTAssertEqual(pair.plain.stepOpTypes, ["Conv", "Sigmoid", "Mul"])
        try assertSameAnswers(pair, shape: [1, 3, 5, 5], seed: 16)
    }

    /// GELU as PyTorch and TensorFlow export it, after a Linear layer: fused into the GEMM with its bias.
    func testGeluSpellingsFuseIntoTheMatMul() throws {
        let spellings: [(String, (inout ModelBuilder) -> Void)] = [
            ("PyTorch: Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)", { model in
                model.node("Div", ["h", "sqrt2"], ["s"])
                model.node("Erf", ["s"], ["e"])
                model.node("Add", ["e", "one"], ["p"])
                model.node("Mul", ["h", "p"], ["m"])
                model.node("Mul", ["m", "half"], ["y"])
            }),
            ("TensorFlow: Mul(Mul(0.5, x), Add(1, Erf(Mul(x, 1/√2))))", { model in
                model.node("Mul", ["h", "invSqrt2"], ["s"])
                model.node("Erf", ["s"], ["e"])
                model.node("Add", ["one", "e"], ["p"])
                model.node("Mul", ["half", "h"], ["m"])
                model.node("Mul", ["m", "p"], ["y"])
            }),
            ("Mul(x, Mul(Add(Erf(Mul(1/√2, x)), 1), 0.5))", { model in
                model.node("Mul", ["invSqrt2", "h"], ["s"])
                model.node("Erf", ["s"], ["e"])
                model.node("Add", ["e", "one"], ["p"])
                model.node("Mul", ["p", "half"], ["m"])
                model.node("Mul", ["h", "m"], ["y"])
            }),
        ]
        for (label, spelling) in spellings {
            let pair = try plans(input: [3, 8], output: [3, 16]) { model in
                var random = TestRandom(seed: 17)
                model.initializer("w", [8, 16], floats: random.floats(128))
                model.initializer("b", [16], floats: random.floats(16))
                model.initializer("sqrt2", [], floats: [Float(2).squareRoot()])
                model.initializer("invSqrt2", [], floats: [1 / Float(2).squareRoot()])
                model.initializer("one", [], floats: [1])
                model.initializer("half", [], floats: [0.5])
                model.node("MatMul", ["x", "w"], ["c"])
                model.node("Add", ["c", "b"], ["h"])
                spelling(&model)
            }
            XCTAssertEqual(pair.rewritten.stepOpTypes, ["MatMul+Add+Gelu"], label)
            XCTAssertGreaterThan(pair.plain.stepOpTypes.count, 4, label)
            try assertSameAnswers(pair, shape: [3, 8], seed: 18)
        }
    }

    /// tf2onnx's Dense on a sequence: Reshape → MatMul (+ bias) → Reshape to a shape computed at run time → activation.
    /// The activation moves above the Reshape and fuses into the GEMM; a second reader of the GEMM's output keeps it
    /// where it is.
    func testActivationAfterAReshapeFusesIntoTheMatMul() throws {
        for activation in ["Gelu", "Relu", "Tanh"] {
            let pair = try plans(input: [2, 3, 8], output: [2, 3, 16]) { model in
                var random = TestRandom(seed: 31)
                model.initializer("w", [8, 16], floats: random.floats(128))
                model.initializer("b", [16], floats: random.floats(16))
                model.initializer("flat", [2], int64s: [-1, 8])
                model.initializer("lastAxis", [1], int64s: [16])
                model.node("Reshape", ["x", "flat"], ["rows"])
                model.node("MatMul", ["rows", "w"], ["c"])
                model.node("Add", ["c", "b"], ["h"])
                // The output shape from the input's at run time, as tf2onnx writes it: Shape → Slice → Concat.
                model.node("Shape", ["x"], ["xs"])
                model.initializer("starts", [1], int64s: [0])
                model.initializer("ends", [1], int64s: [2])
                model.node("Slice", ["xs", "starts", "ends"], ["batchAndLength"])
                model.node("Concat", ["batchAndLength", "lastAxis"], ["outShape"], attributes: [ModelBuilder.int("axis", 0)])
                model.node("Reshape", ["h", "outShape"], ["r"])
                model.node(activation, ["r"], ["y"])
            }
            XCTAssertEqual(pair.rewritten.stepOpTypes.filter { $0.hasPrefix("MatMul") }, ["MatMul+Add+\(activation)"], activation)
            XCTAssertFalse(pair.rewritten.stepOpTypes.contains(activation), activation)
            try assertSameAnswers(pair, shape: [2, 3, 8], seed: 32)
        }
        // The GEMM's output read twice: nothing moves.
        var model = ModelBuilder()
        model.input("x", [4, 8])
        model.output("y", [2, 2, 16])
        model.output("z", [4, 16])
        var random = TestRandom(seed: 33)
        model.initializer("w", [8, 16], floats: random.floats(128))
        model.initializer("shape", [3], int64s: [2, 2, 16])
        model.node("MatMul", ["x", "w"], ["z"])
        model.node("Reshape", ["z", "shape"], ["r"])
        model.node("Relu", ["r"], ["y"])
        XCTAssertEqual(try model.plan().stepOpTypes, ["MatMul", "Reshape", "Relu"])
    }

    /// tf2onnx's NHWC sandwich when its optimiser gave up: Transpose → Conv → Transpose → element-wise ops with
    /// NHWC constants → Pad → Transpose → Conv, and a residual Add of two Transposes. The Transposes sink past
    /// the element-wise ops, the Pad and a ReduceMean, and cancel; only the model's own NHWC→NCHW stays.
    func testTransposesSinkAndCancelBetweenConvolutions() throws {
        let toNCHW = ModelBuilder.ints("perm", [0, 3, 1, 2]), toNHWC = ModelBuilder.ints("perm", [0, 2, 3, 1])
        let pair = try plans(input: [1, 6, 6, 3], output: [1, 4, 1, 1]) { model in
            var random = TestRandom(seed: 19)
            model.initializer("w1", [4, 3, 3, 3], floats: random.floats(108))
            model.initializer("w2", [4, 1, 3, 3], floats: random.floats(36))
            model.initializer("scale", [4], floats: [0.5, -1, 2, 1.5])          // per channel, NHWC: last axis
            model.initializer("shift", [1, 1, 4], floats: [0.1, 0.2, -0.3, 0.4])
            model.initializer("pads", [8], int64s: [0, 1, 1, 0, 0, 1, 1, 0])   // NHWC: H and W
            model.node("Transpose", ["x"], ["t0"], attributes: [toNCHW])
            model.node("Conv", ["t0", "w1"], ["c1"], attributes: [ModelBuilder.ints("pads", [1, 1, 1, 1])])
            model.node("Transpose", ["c1"], ["h1"], attributes: [toNHWC])
            model.node("Mul", ["h1", "scale"], ["m"])
            model.node("Add", ["m", "shift"], ["a"])
            model.node("Relu", ["a"], ["r"])
            model.node("Pad", ["r", "pads"], ["p"])
            model.node("Transpose", ["p"], ["t2"], attributes: [toNCHW])
            model.node("Conv", ["t2", "w2"], ["c2"], attributes: [ModelBuilder.int("group", 4)])
            model.node("Transpose", ["c2"], ["h2"], attributes: [toNHWC])
            model.node("Add", ["h2", "r"], ["sum"])                            // residual: r is read twice
            model.node("ReduceMean", ["sum"], ["mean"], attributes: [ModelBuilder.ints("axes", [1, 2])])
            model.node("Transpose", ["mean"], ["y"], attributes: [toNCHW])
        }
        XCTAssertEqual(pair.plain.stepOpTypes.filter { $0 == "Transpose" }.count, 5)
        XCTAssertEqual(pair.rewritten.stepOpTypes.filter { $0 == "Transpose" }.count, 1, "\(pair.rewritten.stepOpTypes)")
        XCTAssertFalse(pair.rewritten.stepOpTypes.contains("Pad"), "\(pair.rewritten.stepOpTypes)")
        try assertSameAnswers(pair, shape: [1, 6, 6, 3], seed: 20)
    }

    /// MobileNet's residual blocks as tf2onnx leaves them: each Add in NHWC, its output read by the next block's
    /// Transpose back to NCHW and by the next Add. Split, sunk and merged, one Transpose is left (the input's).
    func testResidualChainsInNHWCLoseTheirTransposes() throws {
        let toNCHW = ModelBuilder.ints("perm", [0, 3, 1, 2]), toNHWC = ModelBuilder.ints("perm", [0, 2, 3, 1])
        let pair = try plans(input: [1, 6, 6, 8], output: [1, 8, 6, 6]) { model in
            var random = TestRandom(seed: 23)
            for name in ["w0", "w1", "w2"] { model.initializer(name, [8, 8, 1, 1], floats: random.floats(64)) }
            model.node("Transpose", ["x"], ["t0"], attributes: [toNCHW])
            model.node("Conv", ["t0", "w0"], ["c0"])
            model.node("Transpose", ["c0"], ["h0"], attributes: [toNHWC])      // read by the next block and its Add
            model.node("Transpose", ["h0"], ["t1"], attributes: [toNCHW])
            model.node("Conv", ["t1", "w1"], ["c1"])
            model.node("Transpose", ["c1"], ["h1"], attributes: [toNHWC])
            model.node("Add", ["h1", "h0"], ["a1"])                           // read by the next block and its Add
            model.node("Transpose", ["a1"], ["t2"], attributes: [toNCHW])
            model.node("Conv", ["t2", "w2"], ["c2"])
            model.node("Transpose", ["c2"], ["h2"], attributes: [toNHWC])
            model.node("Add", ["h2", "a1"], ["a2"])
            model.node("Transpose", ["a2"], ["y"], attributes: [toNCHW])
        }
        XCTAssertEqual(pair.plain.stepOpTypes.filter { $0 == "Transpose" }.count, 7)
        XCTAssertEqual(pair.rewritten.stepOpTypes.filter { $0 == "Transpose" }.count, 1, "\(pair.rewritten.stepOpTypes)")
        try assertSameAnswers(pair, shape: [1, 6, 6, 8], seed: 24)
    }

    func testATransposeBeforeAnOpThatMixesAxesStays() throws {
        var model = ModelBuilder()
        model.input("x", [2, 3, 4])
        model.output("y", [4, 3, 2])
        model.initializer("other", [4, 3, 2], floats: (0..<24).map(Float.init))
        model.node("Transpose", ["x"], ["t"], attributes: [ModelBuilder.ints("perm", [2, 1, 0])])
        model.node("Softmax", ["t"], ["s"])
        model.node("Add", ["s", "other"], ["y"])
        XCTAssertEqual(try model.plan().stepOpTypes, ["Transpose", "Softmax", "Add"])
    }

    func testAModelCannotNameTheInternalDomain() {
        var model = ModelBuilder()
        model.input("x", [2])
        model.output("y", [2])
        model.node("SiLU", ["x"], ["y"], domain: GraphRewriter.internalDomain)
        XCTAssertThrowsError(try model.plan()) { error in
            guard case EngineError.unsupportedOperator = error else { return XCTFail("\(error)") }
        }
    }
}
