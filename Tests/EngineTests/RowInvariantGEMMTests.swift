import CKernels
import XCTest
@testable import Engine

/// A row of a batched product comes out bit for bit the same whatever else is in the batch, and however many rows it
/// has, one included: step-batched generation relies on it (a seeded stream samples the same tokens alone or in a
/// batch of any size, and a 1-ulp difference in a logit can flip a sampled token).
final class RowInvariantGEMMTests: XCTestCase {
    override func tearDown() { ds_force_portable(0) }

    private func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
    }

    /// Row 0 of A·op(B) for every batch size from 1 to 14 (edge tiles, full tiles, several of each), with bias and
    /// beta, B plain and transposed, K over one block (KC = 512) and under; AVX2 and portable.
    func testSgemmRowDoesNotDependOnRowCount() {
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (n, k) in [(84, 256), (1024, 256), (37, 700)] {
                for transB in [false, true] {
                    let b = random(k * n, seed: UInt64(n * k))
                    let bias = random(n, seed: 3)
                    var reference: [Float]?
                    for m in 1...14 {
                        let a = random(m * k, seed: 1)   // row 0 is the same for every m
                        var c = random(m * n, seed: 2)   // beta 1 adds row 0 of it, also the same
                        ds_sgemm(0, transB ? 1 : 0, m, n, k, 1, a, k, b, transB ? k : n, 1, &c, n, nil, bias, Activation.none)
                        let row = Array(c[0..<n])
                        if let reference {
                            XCTAssertEqual(row, reference, "row 0 with m = \(m), n \(n), k \(k), transB \(transB), portable \(portable)")
                        } else {
                            reference = row
                        }
                    }
                }
            }
        }
    }

    /// The same through a packed weight (what Gemm, MatMul and the recurrent ops use for constant weights).
    func testPackedWeightRowDoesNotDependOnRowCount() {
        let (n, k) = (1024, 256)
        let b = random(k * n, seed: 9)
        let packed = PackedMatrix(right: b, k: k, n: n, stride: k, transposed: true)
        var reference: [Float]?
        for m in [1, 2, 5, 6, 7, 16, 64] {
            let a = random(m * k, seed: 1)
            var c = [Float](repeating: 0, count: m * n)
            packed.multiply(left: a, m: m, lda: k, into: &c, ldc: n)
            let row = Array(c[0..<n])
            if let reference { XCTAssertEqual(row, reference, "m = \(m)") } else { reference = row }
        }
    }

    /// The shipped LSTM: one stream's logits and states are identical run alone and as row 2 of a batch of 7, for a
    /// prompt (several time steps) and a single-token step.
    func testLSTMStreamIsIdenticalAloneAndBatched() throws {
        let plan = try Plan(contentsOf: ShippedModelTests.modelsFolder.appendingPathComponent("shakespeare-lstm/1/model.onnx"))
        let workspace = Workspace()
        for time in [1, 9] {
            let batch = 7, row = 2
            let tokens = (0..<(batch * time)).map { Int64(($0 * 37 + 11) % 84) }
            let h: [Float] = random(2 * batch * 256, seed: 5), c: [Float] = random(2 * batch * 256, seed: 6)
            let batchTokens = Tensor(shape: [batch, time], int64s: tokens)
            let batchH = Tensor(shape: [2, batch, 256], floats: h), batchC = Tensor(shape: [2, batch, 256], floats: c)
            let batched = try plan.run(["tokens": batchTokens, "h0": batchH, "c0": batchC], workspace: workspace)
            // The same stream alone: row `row` of the tokens, column `row` of the states' axis 1.
            let one = row..<(row + 1)
            let alone = try plan.run(["tokens": batchTokens.slice(one, axis: 0), "h0": batchH.slice(one, axis: 1),
                                      "c0": batchC.slice(one, axis: 1)], workspace: workspace)
            let start: Int = row * time * 84, end: Int = (row + 1) * time * 84
            let logits = try XCTUnwrap(batched["logits"]).floatArray()
            XCTAssertEqual(try XCTUnwrap(alone["logits"]).floatArray(), Array(logits[start..<end]), "logits, T = \(time)")
            for name in ["hn", "cn"] {
                let state = try XCTUnwrap(batched[name]).slice(row..<(row + 1), axis: 1).floatArray()
                XCTAssertEqual(try XCTUnwrap(alone[name]).floatArray(), state, "\(name), T = \(time)")
            }
        }
    }
}
