import XCTest
@testable import Engine

/// Float arithmetic against a short repeating operand (NHWC normalisation: [1, H, W, 3] − [1, 1, 1, 3]) takes a tiled
/// fast path; it must equal the element-by-element definition on either side of a non-commutative op, and with nothing
/// to compute.
final class PeriodicBroadcastTests: XCTestCase {
    private func run(_ op: String, _ a: [Int], _ b: [Int], seed: UInt64) throws -> (got: [Float], want: [Float]) {
        var model = ModelBuilder()
        model.input("a", a.map { .fixed($0) })
        model.input("b", b.map { .fixed($0) })
        let out = try Broadcast.shape([a, b])
        model.output("y", out.map { .fixed($0) })
        model.node(op, ["a", "b"], ["y"])
        var random = TestRandom(seed: seed)
        let x = random.floats(a.reduce(1, *)).map { $0 + 2 }, y = random.floats(b.reduce(1, *)).map { $0 + 2 }
        let got = try XCTUnwrap(try model.plan().run(["a": Tensor(shape: a, floats: x), "b": Tensor(shape: b, floats: y)])["y"]).floatArray()
        // The definition: each output index maps to an index of each operand, broadcast dimensions pinned at 0.
        let strides = { (shape: [Int]) -> [Int] in
            let aligned = Array(repeating: 1, count: out.count - shape.count) + shape
            var step = 1, result = [Int](repeating: 0, count: out.count)
            for axis in (0..<out.count).reversed() {
                result[axis] = aligned[axis] == 1 ? 0 : step
                step *= aligned[axis]
            }
            return result
        }
        let (sa, sb) = (strides(a), strides(b))
        var want: [Float] = []
        for flat in 0..<out.reduce(1, *) {
            var rest = flat, ia = 0, ib = 0
            for axis in (0..<out.count).reversed() {
                let coordinate = rest % out[axis]
                rest /= out[axis]
                ia += coordinate * sa[axis]
                ib += coordinate * sb[axis]
            }
            switch op {
            case "Sub": want.append(x[ia] - y[ib])
            case "Div": want.append(x[ia] / y[ib])
            default: want.append(x[ia] + y[ib])
            }
        }
        return (got, want)
    }

    func testShortPatternsOnEitherSide() throws {
        for (op, a, b) in [("Sub", [2, 5, 7, 3], [1, 1, 1, 3]), ("Sub", [3], [2, 4, 3]), ("Div", [2, 3, 4], [3, 4]),
                           ("Add", [1, 300, 5], [5]), ("Div", [7, 1], [1, 1]), ("Add", [0, 3], [3])] {
            let (got, want) = try run(op, a, b, seed: UInt64(a.count * 10 + b.count))
            XCTAssertEqual(got, want, "\(op) \(a) \(b)")
        }
    }
}
