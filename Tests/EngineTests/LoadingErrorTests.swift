import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// Every way a model file can be wrong ends in a typed error that says what is wrong — never a crash.
final class LoadingErrorTests: XCTestCase {
    private func reluModel() -> ModelBuilder {
        var model = ModelBuilder()
        model.input("x", ["N", 4])
        model.output("y", ["N", 4])
        model.node("Relu", ["x"], ["y"])
        return model
    }

    private func loadError(_ data: Data, file: StaticString = #filePath, line: UInt = #line) -> EngineError? {
        do {
            _ = try Plan(modelData: data)
            XCTFail("loading succeeded", file: file, line: line)
            return nil
        } catch let error as EngineError {
            return error
        } catch {
            XCTFail("untyped error \(error)", file: file, line: line)
            return nil
        }
    }

    func testTextIsNotAModel() {
        guard case .notAModel? = loadError(Data("name,label\nseven,7\n".utf8)) else { return XCTFail("expected notAModel") }
        guard case .notAModel? = loadError(Data()) else { return XCTFail("expected notAModel for an empty file") }
    }

    func testEveryTruncationFailsCleanly() throws {
        var model = reluModel()
        model.initializer("unused", [64], floats: Array(repeating: 1, count: 64))
        let data = try model.data()
        for length in stride(from: 0, to: data.count, by: 3) {
            XCTAssertNotNil(loadError(data.prefix(length)), "truncated to \(length) of \(data.count) bytes")
        }
    }

    func testRandomBytesNeverCrash() {
        var random = TestRandom(seed: 7)
        for length in [1, 10, 100, 1000, 10000] {
            let bytes = Data((0..<length).map { _ in UInt8(truncatingIfNeeded: Int((random.next() + 1) * 128)) })
            _ = try? Plan(modelData: bytes)
        }
    }

    func testUnsupportedOperatorNamesOpDomainOpsetAndNode() throws {
        var model = ModelBuilder()
        model.input("x", [1, 1, 4, 4])
        model.input("grid", [1, 4, 4, 2])
        model.output("y", [1, 1, 4, 4])
        model.node("DeformConv", ["x", "grid"], ["y"], name: "sampler")
        XCTAssertEqual(loadError(try model.data()),
                       .unsupportedOperator(opType: "DeformConv", domain: "", opset: 17, node: "sampler"))
        XCTAssertTrue(EngineError.unsupportedOperator(opType: "DeformConv", domain: "", opset: 17, node: "sampler")
            .description.contains("DeformConv"))
    }

    func testOperatorFromAnotherDomainIsUnsupported() throws {
        var model = reluModel()
        model.nodes[0].domain = "com.microsoft"
        guard case .unsupportedOperator(_, let domain, _, _)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertEqual(domain, "com.microsoft")
    }

    func testUnsupportedElementType() throws {
        var model = ModelBuilder()
        model.input("x", [4], type: 10)   // float16
        model.output("y", [4], type: 10)
        model.node("Identity", ["x"], ["y"])
        XCTAssertEqual(loadError(try model.data()), .unsupportedDataType("float16", context: "graph value 'x'"))
    }

    func testMissingInitializer() throws {
        var model = ModelBuilder()
        model.input("x", [2, 3])
        model.output("y", [2, 4])
        model.node("MatMul", ["x", "W"], ["y"], name: "dense")
        guard case .missingValue(let name, let node)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertEqual(name, "W")
        XCTAssertTrue(node.contains("dense"))
    }

    func testMissingGraphOutput() throws {
        var model = reluModel()
        model.output("nowhere", [1])
        guard case .missingValue(let name, _)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertEqual(name, "nowhere")
    }

    func testInitializerWithTooFewBytes() throws {
        var model = reluModel()
        model.initializer("w", [4, 4], floats: [1, 2, 3])
        guard case .invalidModel(let reason)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertTrue(reason.contains("'w'"), reason)
    }

    func testHugeDimensionsDoNotAllocate() throws {
        var model = reluModel()
        model.initializers.append(tensorProto("huge", type: 1, dims: [1 << 30, 1 << 30]))
        guard case .invalidModel(let reason)? = loadError(try model.data()) else { return XCTFail("expected invalidModel") }
        XCTAssertTrue(reason.contains("'huge'") && reason.contains("too large"), reason)
    }

    // MARK: Valid protobuf, broken tensors

    private func tensorProto(_ name: String, type: Int32, dims: [Int64]) -> Onnx_TensorProto {
        var tensor = Onnx_TensorProto()
        (tensor.name, tensor.dataType, tensor.dims) = (name, type, dims)
        return tensor
    }

    /// The model with one extra initializer, and the error loading it gives.
    private func errorWithInitializer(_ tensor: Onnx_TensorProto, file: StaticString = #filePath, line: UInt = #line) throws -> EngineError? {
        var model = reluModel()
        model.initializers.append(tensor)
        return loadError(try model.data(), file: file, line: line)
    }

    func testDimensionProductThatOverflowsIsRefusedBeforeMultiplying() throws {
        let max = Int64(Int32.max)
        guard case .invalidModel(let reason)? = try errorWithInitializer(tensorProto("t", type: 1, dims: [max, max, max, max])) else {
            return XCTFail("expected invalidModel")
        }
        XCTAssertTrue(reason.contains("too large"), reason)
    }

    func testEmptyTensorWithHugeDimensionsIsRefused() throws {
        // It holds nothing, but kernels would multiply its other dimensions: 2^31 · 2^31 · 2^31 overflows.
        let max = Int64(Int32.max)
        guard case .invalidModel(let reason)? = try errorWithInitializer(tensorProto("t", type: 1, dims: [0, max, max, max])) else {
            return XCTFail("expected invalidModel")
        }
        XCTAssertTrue(reason.contains("too large"), reason)
    }

    func testNegativeAndOutOfRangeDimensionsAreRefused() throws {
        for dim: Int64 in [-1, Int64.min, Int64(Int32.max) + 1] {
            var tensor = tensorProto("t", type: 1, dims: [dim, 4])
            tensor.rawData = Data(count: 16)
            guard case .invalidModel(let reason)? = try errorWithInitializer(tensor) else { return XCTFail("dimension \(dim)") }
            XCTAssertTrue(reason.contains("dimension \(dim)"), reason)
        }
    }

    func testRawDataShorterOrLongerThanTheDimensions() throws {
        for byteCount in [0, 15, 17, 1000] {
            var tensor = tensorProto("t", type: 1, dims: [2, 2])
            tensor.rawData = Data(count: byteCount)
            guard case .invalidModel(let reason)? = try errorWithInitializer(tensor) else { return XCTFail("\(byteCount) bytes") }
            XCTAssertTrue(reason.contains("needs 16 bytes, raw_data has \(byteCount)"), reason)
        }
    }

    func testTypedFieldWithTheWrongValueCount() throws {
        var tensor = tensorProto("t", type: 7, dims: [4])
        tensor.int64Data = [1, 2, 3]
        guard case .invalidModel(let reason)? = try errorWithInitializer(tensor) else { return XCTFail() }
        XCTAssertTrue(reason.contains("needs 4 values, int64_data has 3"), reason)
    }

    func testUnsupportedAndUnknownTensorTypes() throws {
        XCTAssertEqual(try errorWithInitializer(tensorProto("s", type: 8, dims: [1])), .unsupportedDataType("string", context: "tensor 's'"))
        XCTAssertEqual(try errorWithInitializer(tensorProto("u", type: 99, dims: [1])), .unsupportedDataType("type 99", context: "tensor 'u'"))
    }

    func testUnnamedInitializer() throws {
        XCTAssertEqual(try errorWithInitializer(tensorProto("", type: 1, dims: [0])), .invalidModel(reason: "an initializer has no name"))
    }

    // MARK: Valid protobuf, broken graphs

    func testValueProducedTwice() throws {
        var model = reluModel()
        model.node("Relu", ["x"], ["y"], name: "again")
        guard case .invalidModel(let reason)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertTrue(reason.contains("'y'") && reason.contains("more than once"), reason)
    }

    func testNodeReadingAValueNothingProduces() throws {
        var model = reluModel()
        model.node("Add", ["y", "ghost"], ["z"], name: "adder")
        XCTAssertEqual(loadError(try model.data()), .missingValue(name: "ghost", node: "node 'adder' (Add)"))
    }

    func testAbsurdOpsetsAreRefused() throws {
        for opset in [0, -3, 1_000_000, Int(Int64.max)] {
            var model = reluModel()
            model.opset = opset
            guard case .invalidModel(let reason)? = loadError(try model.data()) else { return XCTFail("opset \(opset)") }
            XCTAssertTrue(reason.contains("opset \(opset)"), reason)
        }
    }

    func testUnknownOperatorWithoutANameIsNamedByItsPosition() throws {
        var model = reluModel()
        model.nodes[0].opType = "NoSuchOp"
        model.nodes[0].name = ""
        XCTAssertEqual(loadError(try model.data()), .unsupportedOperator(opType: "NoSuchOp", domain: "", opset: 17, node: "NoSuchOp_0"))
    }

    func testNoGraphOrIRVersionIsNotAModel() throws {
        var proto = reluModel().proto
        proto.irVersion = 0
        guard case .notAModel? = loadError(try proto.serializedData()) else { return XCTFail() }
        var empty = Onnx_ModelProto()
        empty.irVersion = 8
        guard case .notAModel? = loadError(try empty.serializedData()) else { return XCTFail() }
    }

    // MARK: Valid protobuf, broken attributes

    /// A one-node model whose node gets `attributes`, and the error loading it gives.
    private func attributeError(_ opType: String, inputs: [String] = ["x"], outputs: [String] = ["y"],
                                _ attributes: [Onnx_AttributeProto], file: StaticString = #filePath, line: UInt = #line) throws -> EngineError? {
        var model = ModelBuilder()
        model.input("x", [1, 2, 4, 4])
        for name in outputs { model.output(name, [1]) }
        model.initializer("w", [2, 2, 3, 3], floats: Array(repeating: 1, count: 36))
        model.node(opType, inputs, outputs, name: "n", attributes: attributes)
        return loadError(try model.data(), file: file, line: line)
    }

    func testAttributesOutOfRangeNameNodeAndAttribute() throws {
        let cases: [(String, [String], [String], Onnx_AttributeProto, String)] = [
            ("Gemm", ["x", "x"], ["y"], ModelBuilder.int("transA", 2), "transA"),
            ("Conv", ["x", "w"], ["y"], ModelBuilder.ints("kernel_shape", [1 << 40, 3]), "kernel_shape"),
            ("Conv", ["x", "w"], ["y"], ModelBuilder.int("group", 0), "group"),
            ("Conv", ["x", "w"], ["y"], ModelBuilder.ints("pads", [-1, 0, 0, 0]), "pads"),
            ("ConvTranspose", ["x", "w"], ["y"], ModelBuilder.ints("output_padding", [Int(Int64.max), 0]), "output_padding"),
            ("LSTM", ["x", "w", "w"], ["y"], ModelBuilder.int("hidden_size", 1 << 40), "hidden_size"),
            ("MaxPool", ["x"], ["y"], ModelBuilder.ints("strides", [1, 1]), "kernel_shape"),
        ]
        for (opType, inputs, outputs, attribute, name) in cases {
            guard case .invalidAttribute(let node, let type, let attributeName, _)? = try attributeError(opType, inputs: inputs, outputs: outputs, [attribute]) else {
                XCTFail("\(opType) \(attribute.name): expected invalidAttribute")
                continue
            }
            XCTAssertEqual([node, type, attributeName], ["n", opType, name])
        }
    }

    func testAttributeOfTheWrongKindNamesIt() throws {
        var strides = ModelBuilder.ints("strides", [1, 1])
        strides.type = .floats
        guard case .invalidAttribute(_, _, let name, let reason)? = try attributeError("Conv", inputs: ["x", "w"], [strides]) else {
            return XCTFail()
        }
        XCTAssertEqual(name, "strides")
        XCTAssertTrue(reason.contains("must be"), reason)
    }

    func testCastToAnUnknownType() throws {
        XCTAssertEqual(try attributeError("Cast", [ModelBuilder.int("to", 1 << 40)]),
                       .unsupportedDataType(DataType.onnxName(Int32.max), context: "Cast node 'n'"))
    }

    func testConstantWithoutAValue() throws {
        guard case .invalidAttribute(_, _, let name, _)? = try attributeError("Constant", inputs: [], []) else { return XCTFail() }
        XCTAssertEqual(name, "value")
    }

    /// Structured fuzzing: a valid model with one numeric field replaced by an extreme value, many
    /// times over. Each either loads and runs or throws an EngineError; none traps.
    func testExtremeFieldValuesNeverTrap() throws {
        let extremes: [Int64] = [0, -1, 1, 2, 3, -(1 << 31), (1 << 31) - 1, 1 << 40, Int64.min, Int64.max]
        var random = TestRandom(seed: 11)
        func pick() -> Int64 { extremes[min(extremes.count - 1, Int((random.next() + 1) / 2 * Float(extremes.count)))] }
        var outcomes = (ran: 0, rejected: 0)
        for trial in 0..<400 {
            var model = ModelBuilder()
            model.input("x", ["N", 2, 6, 6])
            model.output("y", ["N", 3])
            model.initializer("w", [4, 2, 3, 3], floats: Array(repeating: 0.1, count: 72))
            model.initializer("shape", [2], int64s: [0, -1])
            model.initializer("fc", [64, 3], floats: Array(repeating: 0.1, count: 192))
            var attributes = [ModelBuilder.ints("strides", [1, 1]), ModelBuilder.ints("pads", [0, 0, 0, 0]),
                              ModelBuilder.ints("dilations", [1, 1]), ModelBuilder.int("group", 1)]
            switch trial % 5 {
            case 0: attributes[trial / 5 % 4].ints = attributes[trial / 5 % 4].ints.map { _ in pick() }
            case 1: attributes[3].i = pick()
            case 2: model.initializers[1].int64Data = [pick(), pick()]
            case 3: model.initializers[Int(trial / 5 % 3)].dims = model.initializers[Int(trial / 5 % 3)].dims.map { _ in pick() }
            default: model.opset = Int(pick())
            }
            model.node("Conv", ["x", "w"], ["c"], attributes: attributes)
            model.node("Reshape", ["c", "shape"], ["f"])
            model.node("MatMul", ["f", "fc"], ["m"])
            model.node("Softmax", ["m"], ["y"], attributes: [ModelBuilder.int("axis", Int(trial % 3 == 0 ? pick() : 1))])
            do {
                let plan = try model.plan()
                for size in [0, 1, 2] { _ = try? plan.inferShapes(dynamicSize: size) }
                outcomes.ran += 1
            } catch is EngineError {
                outcomes.rejected += 1
            }
        }
        XCTAssertGreaterThan(outcomes.rejected, 0)
        print("extreme fields: \(outcomes.ran) loaded, \(outcomes.rejected) rejected with an error")
    }

    func testCycleIsRejected() throws {
        var model = ModelBuilder()
        model.input("x", [2])
        model.output("y", [2])
        model.node("Add", ["x", "b"], ["a"])
        model.node("Relu", ["a"], ["b"])
        model.node("Identity", ["a"], ["y"])
        guard case .invalidModel(let reason)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertTrue(reason.contains("cycle"), reason)
    }

    func testInvalidAttribute() throws {
        var model = ModelBuilder()
        model.input("x", [1, 1, 4, 4])
        model.output("y", [1, 1, 4, 4])
        model.initializer("w", [1, 1, 3, 3], floats: Array(repeating: 1, count: 9))
        model.node("Conv", ["x", "w"], ["y"], name: "conv", attributes: [ModelBuilder.ints("strides", [0, 1])])
        guard case .invalidAttribute(let node, let opType, let attribute, _)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertEqual([node, opType, attribute], ["conv", "Conv", "strides"])
    }

    func testAttributeOfWrongKind() throws {
        var model = reluModel()
        model.nodes[0].opType = "LeakyRelu"
        model.nodes[0].attribute = [ModelBuilder.int("alpha", 2)]   // must be a float
        guard case .invalidAttribute(_, _, let attribute, _)? = loadError(try model.data()) else { return XCTFail() }
        XCTAssertEqual(attribute, "alpha")
    }

    func testMissingFileIsAnIOError() {
        XCTAssertThrowsError(try Plan(contentsOf: URL(fileURLWithPath: "/nonexistent/model.onnx"))) { error in
            guard case .io(let path, _)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/nonexistent/model.onnx")
        }
    }
}

/// Corrupted models (bytes flipped at random) either load and run or fail with an error — the
/// process never traps. A crash here takes the whole test run down, which is the point.
final class CorruptModelTests: XCTestCase {
    func testFlippedBytesNeverCrash() throws {
        var model = ModelBuilder()
        model.input("x", ["N", 2, 6, 6])
        model.output("y", ["N", 3])
        var random = TestRandom(seed: 99)
        model.initializer("w", [4, 2, 3, 3], floats: random.floats(72))
        model.initializer("fc", [4 * 16, 3], floats: random.floats(192))
        model.initializer("shape", [2], int64s: [0, -1])
        model.node("Conv", ["x", "w"], ["c"], attributes: [ModelBuilder.ints("strides", [1, 1])])
        model.node("Relu", ["c"], ["r"])
        model.node("Reshape", ["r", "shape"], ["f"])
        model.node("MatMul", ["f", "fc"], ["m"])
        model.node("Softmax", ["m"], ["y"], attributes: [ModelBuilder.int("axis", 1)])
        let original = [UInt8](try model.data())
        XCTAssertNoThrow(try Plan(modelData: Data(original)).inferShapes(dynamicSize: 2))
        var outcomes = (loaded: 0, rejected: 0)
        for trial in 0..<3000 {
            var bytes = original
            for _ in 0..<(1 + trial % 4) {
                let index = Int(UInt32(bitPattern: Int32(truncatingIfNeeded: Int((random.next() + 1) * 1e6)))) % bytes.count
                bytes[index] ^= UInt8(truncatingIfNeeded: Int((random.next() + 1) * 127) | 1)
            }
            do {
                let plan = try Plan(modelData: Data(bytes))
                _ = try plan.inferShapes(dynamicSize: 2)
                outcomes.loaded += 1
            } catch is EngineError {
                outcomes.rejected += 1
            }
        }
        XCTAssertGreaterThan(outcomes.rejected, 0)
        print("corrupted models: \(outcomes.loaded) ran, \(outcomes.rejected) rejected with an error")
    }
}
