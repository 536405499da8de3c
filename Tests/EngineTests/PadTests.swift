import XCTest
@testable import Engine

/// Constant Pad has a fast path for padding of the last two axes only (a convolution's spatial padding); these check
/// it, and the general path beside it, against a plain loop over the output: margins on any side or none, a fill
/// value, 8-byte elements, and an input whose planes are empty (the output is all fill).
final class PadTests: XCTestCase {
    private func pad(_ x: Tensor, _ pads: [Int], value: Tensor) throws -> Tensor {
        var model = ModelBuilder()
        model.input("x", x.shape.map { .fixed($0) }, type: x.dataType.rawValue)
        model.input("value", [], type: value.dataType.rawValue)
        model.outputs.append(ModelBuilder.valueInfo("y", x.dataType.rawValue, []))
        model.initializer("pads", [pads.count], int64s: pads.map(Int64.init))
        model.node("Pad", ["x", "pads", "value"], ["y"])
        return try XCTUnwrap(try model.plan().run(["x": x, "value": value])["y"])
    }

    /// The padded tensor computed element by element: out[i] = x[i − begin] where that lies inside x, else `fill`.
    private func reference(_ values: [Double], shape: [Int], _ pads: [Int], fill: Double) -> (values: [Double], shape: [Int]) {
        let rank = shape.count
        let outShape = (0..<rank).map { shape[$0] + pads[$0] + pads[rank + $0] }
        var out: [Double] = []
        for index in 0..<outShape.reduce(1, *) {
            var rest = index, source = 0, stride = 1, inside = true
            for axis in (0..<rank).reversed() {
                let c = rest % outShape[axis] - pads[axis]
                rest /= outShape[axis]
                if c < 0 || c >= shape[axis] { inside = false }
                source += c * stride
                stride *= shape[axis]
            }
            out.append(inside ? values[source] : fill)
        }
        return (out, outShape)
    }

    func testConstantPaddingMatchesAnElementwiseLoop() throws {
        let cases: [(shape: [Int], pads: [Int])] = [
            ([2, 3, 4, 5], [0, 0, 1, 0, 0, 0, 2, 3]),   // last two axes: the fast path, uneven margins
            ([2, 3, 4, 5], [0, 0, 0, 2, 0, 0, 0, 0]),   // one side of one axis
            ([2, 3, 4, 5], [0, 0, 0, 0, 0, 0, 0, 0]),   // nothing to pad: a copy
            ([2, 3, 4, 5], [0, 1, 1, 0, 1, 0, 2, 3]),   // leading axes too: the general path
            ([3, 7], [2, 1, 0, 4]),                     // rank 2: both axes are the plane's
            ([1, 2, 0, 3], [0, 0, 1, 1, 0, 0, 1, 0]),   // empty planes: all fill
        ]
        for (shape, pads) in cases {
            let count = shape.reduce(1, *)
            let values: [Double] = (0..<count).map { Double($0) * 0.5 - 3 }
            let x = Tensor(shape: shape, floats: values.map { Float($0) })
            let y = try pad(x, pads, value: Tensor(scalar: Float(1.5)))
            let expected = reference(values, shape: shape, pads, fill: 1.5)
            XCTAssertEqual(y.shape, expected.shape, "\(shape) pads \(pads)")
            XCTAssertEqual(y.floatArray(), expected.values.map { Float($0) }, "\(shape) pads \(pads)")
        }
        // 8-byte elements through the same path.
        let x = Tensor(shape: [1, 2, 3, 3], int64s: (0..<18).map(Int64.init))
        let y = try pad(x, [0, 0, 1, 1, 0, 0, 1, 1], value: Tensor(shape: [], int64s: [7]))
        let expected = reference((0..<18).map(Double.init), shape: [1, 2, 3, 3], [0, 0, 1, 1, 0, 0, 1, 1], fill: 7)
        XCTAssertEqual(y.shape, expected.shape)
        XCTAssertEqual(y.int64Array(), expected.values.map { Int64($0) })
    }
}
