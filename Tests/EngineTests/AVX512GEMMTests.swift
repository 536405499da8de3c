import CKernels
import XCTest
@testable import Engine

/// The GEMM's AVX-512 tiles (12 × 32 over the AVX2 kernels' packed layouts) give the AVX2 tiles' results bit for bit:
/// every shape of edge (rows 1–13 and 25, columns off the 16- and 32-column grid), K over one block (KC = 512), beta
/// 0, 1 and 0.5, both biases, every fused activation, B packed per call, read in place (a pointwise convolution's
/// input), or packed once; A packed per call or once. Where the CPU has no AVX-512 both runs take the AVX2 path and
/// the comparison holds trivially; `.ci/run` then says so, and the other GEMM tests check the path against references.
final class AVX512GEMMTests: XCTestCase {
    override func tearDown() { ds_force_avx2(0) }

    /// nil: no activation.
    private let activations: [Activation?] = [
        nil, .relu, .leakyRelu(alpha: 0.1), .clip(min: -0.5, max: 0.5), .sigmoid, .tanh,
        .hardSigmoid(alpha: 0.2, beta: 0.5), .hardSwish, .silu, .gelu,
    ]

    /// Runs `product` with the AVX-512 tiles allowed and with them off; the two outputs must be identical.
    private func assertSameBits(_ label: String, _ product: () -> [Float]) {
        ds_force_avx2(0)
        let best = product()
        ds_force_avx2(1)
        let avx2 = product()
        ds_force_avx2(0)
        XCTAssertEqual(best.count, avx2.count)
        let differing = zip(best, avx2).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(label): \(differing) of \(best.count) values differ (\(String(cString: ds_kernel_isa())))")
    }

    func testPlainProductsMatchTheAVX2Bits() {
        var random = TestRandom(seed: 12)
        let shapes = [(1, 5, 3), (2, 33, 40), (5, 16, 7), (7, 31, 64), (12, 32, 65), (13, 47, 600), (25, 100, 513), (6, 17, 1),
                      (24, 136, 144), (11, 1, 9), (64, 48, 1030)]
        for (m, n, k) in shapes {
            for transB in [false, true] {
                for beta: Float in [0, 1, 0.5] {
                    let a = random.floats(m * k), b = random.floats(k * n), c = random.floats(m * n)
                    let rowBias = m % 2 == 1 ? random.floats(m) : nil, colBias = n % 2 == 0 ? random.floats(n) : nil
                    let activation = activations[(m + n + k) % activations.count]
                    assertSameBits("\(m)×\(n)×\(k) tB \(transB) β \(beta) \(activation.map(\.name) ?? "none")") {
                        var out = c
                        ds_sgemm(0, transB ? 1 : 0, m, n, k, 1, a, k, b, transB ? k : n, beta, &out, n, rowBias, colBias,
                                 (activation?.kernelDescriptor ?? Activation.none))
                        return out
                    }
                }
            }
        }
    }

    /// A packed once (a convolution's filters) against B read in place, with every activation and a residual (beta 1).
    func testPrepackedFiltersOverPixelsMatchTheAVX2Bits() {
        var random = TestRandom(seed: 13)
        for (m, n, k) in [(24, 3136, 144), (16, 200, 32), (13, 49, 960), (96, 196, 16), (32, 1024, 64), (5, 37, 700)] {
            let a = random.floats(m * k), b = random.floats(k * n), c = random.floats(m * n), bias = random.floats(m)
            var packed = [Float](repeating: 0, count: ds_sgemm_packed_a_size(m, k))
            ds_sgemm_pack_a(0, m, k, 1, a, k, &packed)
            for (index, activation) in activations.enumerated() {
                let beta: Float = index % 2 == 0 ? 0 : 1
                assertSameBits("\(m)×\(n)×\(k) β \(beta) \(activation.map(\.name) ?? "none")") {
                    var out = c
                    ds_sgemm_prepacked(m, n, k, packed, 0, b, n, beta, &out, n, bias, nil, (activation?.kernelDescriptor ?? Activation.none))
                    return out
                }
            }
        }
    }

    /// B packed once (a dense layer's weights, an LSTM's gates) against rows of activations: 1–13 rows.
    func testPrepackedWeightsMatchTheAVX2Bits() {
        var random = TestRandom(seed: 14)
        for (n, k) in [(1024, 256), (100, 600), (40, 7)] {
            let b = random.floats(k * n), bias = random.floats(n)
            // Packed B must be 64-byte aligned (the kernels' aligned loads), which a Swift array isn't.
            let packed = UnsafeMutableRawPointer.allocate(byteCount: ds_sgemm_packed_b_size(k, n) * 4, alignment: 64)
                .bindMemory(to: Float.self, capacity: ds_sgemm_packed_b_size(k, n))
            defer { packed.deallocate() }
            ds_sgemm_pack_b(0, k, n, b, n, packed)
            for m in 1...13 {
                let a = random.floats(m * k)
                assertSameBits("\(m)×\(n)×\(k)") {
                    var out = [Float](repeating: 0, count: m * n)
                    ds_sgemm_prepacked_b(0, m, n, k, 1, a, k, packed, 0, &out, n, nil, bias, Activation.tanh.kernelDescriptor)
                    return out
                }
            }
        }
    }
}
