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
        model.node("GridSample", ["x", "grid"], ["y"], name: "sampler")
        XCTAssertEqual(loadError(try model.data()),
                       .unsupportedOperator(opType: "GridSample", domain: "", opset: 17, node: "sampler"))
        XCTAssertTrue(EngineError.unsupportedOperator(opType: "GridSample", domain: "", opset: 17, node: "sampler")
            .description.contains("GridSample"))
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
        var tensor = Onnx_TensorProto()
        tensor.name = "huge"
        tensor.dataType = 1
        tensor.dims = [1 << 30, 1 << 30]
        model.initializers.append(tensor)
        guard case .invalidModel? = loadError(try model.data()) else { return XCTFail("expected invalidModel") }
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
