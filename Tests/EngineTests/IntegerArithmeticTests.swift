import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// Integer arithmetic follows ONNX (two's complement, wrapping), never Swift's overflow traps: a
/// client chooses every input value, and one trap would take the whole server down.
final class IntegerArithmeticTests: XCTestCase {
    private let int32Max = Int32.max, int32Min = Int32.min
    private let int64Max = Int64.max, int64Min = Int64.min

    /// A one-node model over inputs a and b (or just a) of `type` (ONNX code) and symbolic shape.
    private func run(_ opType: String, _ a: Tensor, _ b: Tensor? = nil, attributes: [Onnx_AttributeProto] = [],
                     outputType: Int32? = nil) throws -> Tensor {
        var model = ModelBuilder()
        let type = a.dataType.rawValue
        model.input("a", ["N"], type: type)
        if let b { model.input("b", ["M"], type: b.dataType.rawValue) }
        model.output("y", ["K"], type: outputType ?? type)
        model.node(opType, b == nil ? ["a"] : ["a", "b"], ["y"], name: "op", attributes: attributes)
        var feeds = ["a": a]
        if let b { feeds["b"] = b }
        let outputs = try model.plan().run(feeds)
        return try XCTUnwrap(outputs["y"])
    }

    private func int32s(_ values: [Int32]) -> Tensor { Tensor(shape: [values.count], int32s: values) }
    private func int64s(_ values: [Int64]) -> Tensor { Tensor(shape: [values.count], int64s: values) }

    func testAddSubMulWrapAtInt32Limits() throws {
        XCTAssertEqual(try run("Add", int32s([int32Max, int32Min]), int32s([1, -1])).int64Array(), [Int64(int32Min), Int64(int32Max)])
        XCTAssertEqual(try run("Sub", int32s([int32Min, int32Max]), int32s([1, -1])).int64Array(), [Int64(int32Max), Int64(int32Min)])
        XCTAssertEqual(try run("Mul", int32s([int32Min, int32Max]), int32s([-1, 2])).int64Array(), [Int64(int32Min), -2])
    }

    func testAddSubMulWrapAtInt64Limits() throws {
        XCTAssertEqual(try run("Add", int64s([int64Max, int64Min]), int64s([1, -1])).int64Array(), [int64Min, int64Max])
        XCTAssertEqual(try run("Sub", int64s([int64Min]), int64s([1])).int64Array(), [int64Max])
        XCTAssertEqual(try run("Mul", int64s([int64Min, int64Max]), int64s([-1, int64Max])).int64Array(), [int64Min, 1])
    }

    func testNegAndAbsOfTheMostNegativeValueWrap() throws {
        XCTAssertEqual(try run("Neg", int32s([int32Min, 5])).int64Array(), [Int64(int32Min), -5])
        XCTAssertEqual(try run("Abs", int32s([int32Min, -5])).int64Array(), [Int64(int32Min), 5])
        XCTAssertEqual(try run("Neg", int64s([int64Min])).int64Array(), [int64Min])
        XCTAssertEqual(try run("Abs", int64s([int64Min])).int64Array(), [int64Min])
    }

    func testPowIsExactAndWraps() throws {
        XCTAssertEqual(try run("Pow", int64s([3, 2, 2, -2, 1, -1, -1, 5, 0]), int64s([39, 63, 64, 63, -3, -3, -2, -1, -1])).int64Array(),
                       [4052555153018976267, int64Min, 0, int64Min, 1, -1, 1, 0, 0])
        XCTAssertEqual(try run("Pow", int32s([2, 3]), int32s([31, 21])).int64Array(),
                       [Int64(int32Min), Int64(Int32(truncatingIfNeeded: 10460353203 as Int64))])
    }

    func testSumWraps() throws {
        var model = ModelBuilder()
        for name in ["a", "b", "c"] { model.input(name, [1], type: 6) }
        model.output("y", [1], type: 6)
        model.node("Sum", ["a", "b", "c"], ["y"])
        let y = try model.plan().run(["a": int32s([int32Max]), "b": int32s([int32Max]), "c": int32s([2])])["y"]
        XCTAssertEqual(y?.int64Array(), [0])
    }

    func testDivOfMinByMinusOneWrapsAndTruncates() throws {
        XCTAssertEqual(try run("Div", int32s([int32Min, 7, -7]), int32s([-1, -2, 2])).int64Array(), [Int64(int32Min), -3, -3])
        XCTAssertEqual(try run("Div", int64s([int64Min]), int64s([-1])).int64Array(), [int64Min])
    }

    func testIntegerDivisionByZeroThrowsNamingTheNode() throws {
        for (opType, attributes) in [("Div", []), ("Mod", []), ("Mod", [ModelBuilder.int("fmod", 1)])] as [(String, [Onnx_AttributeProto])] {
            for (a, b) in [(int32s([1, 2]), int32s([1, 0])), (int64s([int64Min]), int64s([0]))] {
                XCTAssertThrowsError(try run(opType, a, b, attributes: attributes)) { error in
                    XCTAssertEqual(error as? EngineError, .divisionByZero(node: "op", opType: opType))
                    XCTAssertTrue((error as? EngineError)?.isCausedByInput ?? false)
                }
            }
        }
    }

    func testFloatDivisionByZeroIsInfinity() throws {
        XCTAssertEqual(try run("Div", Tensor(shape: [1], floats: [1]), Tensor(shape: [1], floats: [0])).floatArray(), [.infinity])
    }

    func testModFollowsTheDivisorsSignOrTheDividendsWithFmod() throws {
        let a = int32s([7, -7, 7, -7, int32Min]), b = int32s([3, 3, -3, -3, -1])
        XCTAssertEqual(try run("Mod", a, b).int64Array(), [1, 2, -2, -1, 0])
        XCTAssertEqual(try run("Mod", a, b, attributes: [ModelBuilder.int("fmod", 1)]).int64Array(), [1, -1, 1, -1, 0])
        XCTAssertEqual(try run("Mod", int64s([int64Min, int64Max]), int64s([-1, int64Min])).int64Array(), [0, -1])
    }

    func testReduceSumAndProdWrapExactly() throws {
        let big = int64s([int64Max, 1, 1 << 53, 1])
        XCTAssertEqual(try run("ReduceSum", int64s([int64Max, 1])).int64Array(), [int64Min])
        XCTAssertEqual(try run("ReduceSum", int64s([1 << 53, 1])).int64Array(), [(1 << 53) + 1])   // Double would round
        XCTAssertEqual(try run("ReduceProd", int64s([int64Max, 2]), attributes: [], outputType: 7).int64Array(), [-2])
        XCTAssertEqual(try run("ReduceSum", int32s([int32Max, 1])).int64Array(), [Int64(int32Min)])
        XCTAssertEqual(try run("ReduceMax", big).int64Array(), [int64Max])
    }

    func testRangeNearTheLimitsWraps() throws {
        var model = ModelBuilder()
        for name in ["start", "limit", "delta"] { model.input(name, [], type: 7) }
        model.output("y", ["N"], type: 7)
        model.node("Range", ["start", "limit", "delta"], ["y"])
        let scalar = { (value: Int64) in Tensor(shape: [], int64s: [value]) }
        let y = try model.plan().run(["start": scalar(int64Max - 1), "limit": scalar(int64Max), "delta": scalar(1)])["y"]
        XCTAssertEqual(y?.int64Array(), [int64Max - 1])
        let down = try model.plan().run(["start": scalar(0), "limit": scalar(-(1 << 40)), "delta": scalar(1)])["y"]
        XCTAssertEqual(down?.shape, [0])
        let across = try model.plan().run(["start": scalar(int64Min), "limit": scalar(int64Max), "delta": scalar(int64Max)])["y"]
        XCTAssertEqual(across?.int64Array(), [int64Min, -1, int64Max - 1])
        XCTAssertThrowsError(try model.plan().run(["start": scalar(int64Min), "limit": scalar(int64Max), "delta": scalar(1)]))
    }

    /// Casts from floating point saturate (NaN → 0); Swift's `Int32(Float.nan)` would trap.
    func testCastsOfNaNInfinityAndHugeValuesSaturate() throws {
        let x = Tensor(shape: [6], floats: [.nan, .infinity, -.infinity, 1e30, -1e30, -2.7])
        func cast(_ to: Int32) throws -> Tensor { try run("Cast", x, attributes: [ModelBuilder.int("to", Int(to))], outputType: to) }
        XCTAssertEqual(try cast(6).int64Array(), [0, Int64(int32Max), Int64(int32Min), Int64(int32Max), Int64(int32Min), -2])
        XCTAssertEqual(try cast(7).int64Array(), [0, int64Max, int64Min, int64Max, int64Min, -2])
        XCTAssertEqual(try cast(2).int64Array(), [0, 255, 0, 255, 0, 0])
        XCTAssertEqual(try cast(13).uint64Array(), [0, .max, 0, .max, 0, 0])
    }

    // MARK: Reading values out exactly

    func testInt64ArrayIsExactForEveryIntegerType() throws {
        let twoTo24Plus1: Int64 = (1 << 24) + 1
        XCTAssertEqual(Tensor(shape: [2], int64s: [twoTo24Plus1, int64Max]).int64Array(), [twoTo24Plus1, int64Max])
        let uint32 = [UInt32(twoTo24Plus1), UInt32.max].withUnsafeBytes { Tensor(dataType: .uint32, shape: [2], bytes: $0) }
        XCTAssertEqual(uint32.int64Array(), [twoTo24Plus1, Int64(UInt32.max)])
        let uint64Values: [UInt64] = [UInt64(twoTo24Plus1), UInt64(int64Max), .max]
        let uint64 = uint64Values.withUnsafeBytes { Tensor(dataType: .uint64, shape: [3], bytes: $0) }
        XCTAssertEqual(uint64.uint64Array(), uint64Values)
        XCTAssertEqual(uint64.int64Array(), [twoTo24Plus1, int64Max, -1])   // above Int64.max wraps, as a C cast
        XCTAssertEqual(Tensor(shape: [1], int32s: [int32Min]).int64Array(), [Int64(int32Min)])
        XCTAssertEqual(Tensor(shape: [3], floats: [.nan, 1e30, -3.9]).int64Array(), [0, int64Max, -3])
        XCTAssertEqual(Tensor(shape: [1], int64s: [(1 << 53) + 1]).doubleArray(), [Double(1 << 53)])   // documented: exact to 2^53
    }
}
