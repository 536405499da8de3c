import Dispatch
import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// What the ONNX node tests leave out for the gather/scatter, TopK, Einsum and detection ops:
/// indices from a request that are out of range end in `invalidInput` (never a trap), empty
/// tensors flow through, integer data stays exact, and long loops stop at the run's limits.
final class IndexingAndDetectionOpTests: XCTestCase {
    /// Runs one node on the given inputs (nil: omitted); every dimension is symbolic.
    private func run(_ opType: String, _ inputs: [Tensor?], outputs: Int = 1, opset: Int = 18,
                     attributes: [Onnx_AttributeProto] = [], limits: RunLimits = .none) throws -> [Tensor] {
        var model = ModelBuilder()
        model.opset = opset
        var feeds: [String: Tensor] = [:], names: [String] = []
        for (index, input) in inputs.enumerated() {
            guard let input else { names.append(""); continue }
            model.input("in\(index)", input.shape.indices.map { .symbolic("d\(index)_\($0)") }, type: input.dataType.rawValue)
            feeds["in\(index)"] = input
            names.append("in\(index)")
        }
        let outputNames = (0..<outputs).map { "out\($0)" }
        for name in outputNames { model.outputs.append(ModelBuilder.valueInfo(name, 1, [])) }
        model.node(opType, names, outputNames, attributes: attributes)
        let result = try model.plan().run(feeds, limits: limits)
        return outputNames.compactMap { result[$0] }
    }

    private func string(_ name: String, _ value: String) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .string
        attribute.s = Data(value.utf8)
        return attribute
    }

    private func floats(_ shape: [Int], _ values: [Float]? = nil) -> Tensor {
        Tensor(shape: shape, floats: values ?? (0..<Tensor.elementCount(shape)).map(Float.init))
    }

    private func ints(_ shape: [Int], _ values: [Int64]) -> Tensor { Tensor(shape: shape, int64s: values) }

    private func assertInvalidInput(_ expression: @autoclosure () throws -> [Tensor], _ fragment: String,
                                    file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard case .invalidInput(_, _, let reason)? = error as? EngineError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertTrue(reason.contains(fragment), reason, file: file, line: line)
        }
    }

    func testOutOfRangeIndicesThrowInsteadOfTrapping() {
        let data = floats([2, 3])
        for bad: Int64 in [3, -4, .max, .min] {
            assertInvalidInput(try run("GatherElements", [data, ints([2, 1], [0, bad])], attributes: [ModelBuilder.int("axis", 1)]), "out of range")
            assertInvalidInput(try run("GatherND", [data, ints([1, 2], [1, bad])]), "out of range")
            assertInvalidInput(try run("ScatterElements", [data, ints([1, 1], [bad]), floats([1, 1])], attributes: [ModelBuilder.int("axis", 1)]),
                               "out of range")
            assertInvalidInput(try run("ScatterND", [data, ints([1, 2], [0, bad]), floats([1])]), "out of range")
        }
        // GatherElements' other axes come from the indices' own shape: larger than the data is refused.
        assertInvalidInput(try run("GatherElements", [data, ints([3, 1], [0, 0, 0])], attributes: [ModelBuilder.int("axis", 1)]), "larger")
        assertInvalidInput(try run("TopK", [data, ints([1], [4])], outputs: 2), "out of range")
        assertInvalidInput(try run("TopK", [data, ints([1], [-1])], outputs: 2), "out of range")
        // A condition longer than the axis: the entries past its end are ignored (onnxruntime's rule).
        XCTAssertEqual(try run("Compress", [data, Tensor(shape: [4], bools: [false, true, false, true])],
                               attributes: [ModelBuilder.int("axis", 1)]).first?.floatArray(), [1, 4])
        assertInvalidInput(try run("RoiAlign", [floats([1, 1, 2, 2]), floats([1, 4], [0, 0, 1, 1]), ints([1], [1])]), "out of range")
        assertInvalidInput(try run("OneHot", [ints([1], [0]), ints([], [0]), floats([2], [0, 1])]), "depth must be positive")
        // A one-hot index outside the depth is all "off" (the ONNX rule), not an error.
        XCTAssertEqual(try run("OneHot", [ints([2], [5, .min]), ints([], [3]), floats([2], [0, 1])]).first?.floatArray(), [0, 0, 0, 0, 0, 0])
    }

    func testEinsumEquationsAreCheckedAtLoadAndShapesAtRun() {
        for equation in ["ij,jk->ik,", "i.j->i", "ij->ii", "ij->k", "....i->i", "i1->i"] {
            XCTAssertThrowsError(try run("Einsum", [floats([2, 2])], attributes: [string("equation", equation)]), equation) { error in
                guard case .invalidAttribute(_, "Einsum", "equation", _)? = error as? EngineError else { return XCTFail("\(equation): \(error)") }
            }
        }
        assertInvalidInput(try run("Einsum", [floats([2, 3]), floats([4, 5])], attributes: [string("equation", "ij,jk->ik")]), "disagree")
        assertInvalidInput(try run("Einsum", [floats([2, 3, 4])], attributes: [string("equation", "ij->i")]), "does not fit")
    }

    func testEinsumImplicitOutputEllipsisAndDiagonal() throws {
        // Implicit output: the labels used once, alphabetically — "ba" is a transpose.
        XCTAssertEqual(try run("Einsum", [floats([2, 3])], attributes: [string("equation", "ba")]).first?.floatArray(), [0, 3, 1, 4, 2, 5])
        // A broadcast "..." of size 1 against 2, and a diagonal.
        let broadcast = try run("Einsum", [floats([1, 2]), floats([2, 2])], attributes: [string("equation", "...i,...i->...")])
        XCTAssertEqual(broadcast.first?.shape, [2])
        XCTAssertEqual(broadcast.first?.floatArray(), [1, 3])
        XCTAssertEqual(try run("Einsum", [floats([3, 3])], attributes: [string("equation", "ii->")]).first?.floatArray(), [12])
        // int64 stays exact beyond 2^53.
        let big = ints([2], [1 << 60, 3])
        XCTAssertEqual(try run("Einsum", [big, ints([2], [1, 1])], attributes: [string("equation", "i,i")]).first?.int64Array(), [(1 << 60) + 3])
    }

    func testEmptyTensorsFlowThrough() throws {
        XCTAssertEqual(try run("GatherElements", [floats([0, 3]), ints([0, 2], [])]).first?.shape, [0, 2])
        XCTAssertEqual(try run("GatherND", [floats([2, 3]), ints([0, 1], [])]).first?.shape, [0, 3])
        XCTAssertEqual(try run("ScatterND", [floats([2, 3]), ints([0, 1], []), floats([0, 3])]).first?.floatArray(), (0..<6).map(Float.init))
        XCTAssertEqual(try run("TopK", [floats([2, 3]), ints([1], [0])], outputs: 2).map(\.shape), [[2, 0], [2, 0]])
        XCTAssertEqual(try run("TopK", [floats([0, 1 << 40]), ints([1], [2])], outputs: 2).map(\.shape), [[0, 2], [0, 2]])
        XCTAssertEqual(try run("NonZero", [floats([0, 4])]).first?.shape, [2, 0])
        XCTAssertEqual(try run("CumSum", [floats([3, 0]), ints([], [1])]).first?.shape, [3, 0])
        XCTAssertEqual(try run("Trilu", [floats([1 << 40, 0, 4])]).first?.shape, [1 << 40, 0, 4])
        // A sum over an empty label is zero, not a loop over the other labels' sizes.
        XCTAssertEqual(try run("Einsum", [floats([2, 0]), floats([0, 3])], attributes: [string("equation", "ij,jk->ik")]).first?.floatArray(),
                       Array(repeating: 0, count: 6))
        XCTAssertEqual(try run("NonMaxSuppression", [floats([1, 0, 4]), floats([1, 2, 0]), ints([1], [5])]).first?.shape, [0, 3])
        XCTAssertEqual(try run("GridSample", [floats([1, 1, 2, 2]), floats([1, 0, 3, 2])], opset: 20).first?.shape, [1, 1, 0, 3])
        XCTAssertEqual(try run("DepthToSpace", [floats([0, 4, 2, 2])], attributes: [ModelBuilder.int("blocksize", 2)]).first?.shape, [0, 1, 4, 4])
        XCTAssertEqual(try run("GroupNormalization", [floats([0, 4, 3]), floats([4]), floats([4])], opset: 21,
                               attributes: [ModelBuilder.int("num_groups", 2)]).first?.shape, [0, 4, 3])
    }

    func testIntegerDataAndTies() throws {
        // int64 data moves exactly; ScatterND adds duplicates together.
        let data = ints([2, 2], [1 << 62, 5, -7, .min])
        XCTAssertEqual(try run("GatherElements", [data, ints([1, 2], [1, 0])]).first?.int64Array(), [-7, 5])
        let added = try run("ScatterND", [data, ints([2, 2], [0, 1, 0, 1]), ints([2], [10, 20])], attributes: [string("reduction", "add")])
        XCTAssertEqual(added.first?.int64Array(), [1 << 62, 35, -7, .min])
        // TopK: equal values come out lower index first, largest or smallest.
        let tied = floats([5], [2, 7, 2, 7, 2])
        let largest = try run("TopK", [tied, ints([1], [3])], outputs: 2)
        XCTAssertEqual(largest[1].int64Array(), [1, 3, 0])
        let smallest = try run("TopK", [tied, ints([1], [2])], outputs: 2, attributes: [ModelBuilder.int("largest", 0)])
        XCTAssertEqual(smallest[1].int64Array(), [0, 2])
    }

    func testEinsumStopsAtTheDeadline() throws {
        // The checked loop (int64): 2^30 products. The GEMM path (float32): 2^33 multiply-adds, checked every 256 rows.
        // Both take far longer than the deadline allows.
        let cases: [(Tensor, Tensor)] = [
            (Tensor.zeros(.int64, shape: [1 << 10, 1 << 10]), Tensor.zeros(.int64, shape: [1 << 10, 1 << 10])),
            (Tensor.zeros(.float, shape: [1 << 11, 1 << 11]), Tensor.zeros(.float, shape: [1 << 11, 1 << 11])),
        ]
        for (a, b) in cases {
            let limits = RunLimits(deadline: .now() + .milliseconds(50))
            let start = DispatchTime.now()
            XCTAssertThrowsError(try run("Einsum", [a, b], attributes: [string("equation", "ij,jk->ik")], limits: limits)) { error in
                guard case .deadlineExceeded? = error as? EngineError else { return XCTFail("\(a.dataType): \(error)") }
            }
            XCTAssertLessThan(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9, 5, "\(a.dataType)")
        }
    }
}
