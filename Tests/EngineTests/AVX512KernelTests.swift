import CKernels
import XCTest
@testable import Engine

/// The AVX-512 kernels give the AVX2 kernels' results bit for bit. The GEMM's tiles (12 × 32 over the AVX2 kernels'
/// packed layouts): every shape of edge (rows 1–13 and 25, columns off the 16- and 32-column grid), K over one block (KC = 512), beta
/// 0, 1 and 0.5, both biases, every fused activation, B packed per call, read in place (a pointwise convolution's
/// input), or packed once; A packed per call or once. Where the CPU has no AVX-512 both runs take the AVX2 path and
/// the comparison holds trivially; `.ci/run` then says so, and the other kernel tests check the path against references.
/// The direct convolution's tiles (6 pixels × up to 64 channels), its row tiles for stems (8 channels × 32 pixels),
/// the depthwise convolution's tiles (4 rows × 32 columns), Winograd's transforms (16 tiles per zmm), and the LSTM cell.
final class AVX512KernelTests: XCTestCase {
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
        // 49, 18, 2 and 514 columns leave one or two past a multiple of 16: the thin-column path (514 × 600: two K
        // blocks); 196 and 3 leave four and three, which take a tile.
        for (m, n, k) in [(24, 3136, 144), (16, 200, 32), (13, 49, 960), (96, 196, 16), (32, 1024, 64), (5, 37, 700),
                          (100, 49, 160), (61, 18, 50), (50, 2, 30), (50, 3, 30), (7, 514, 600)] {
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

    /// The direct convolution: the general tile over 1–4 panels (16, 40, 64, 100 output channels), strides, dilation,
    /// padding, tiles across images; the row kernel for 1–3 input channels (3×3 and 7×7 stems, rows not a multiple
    /// of 16); with a residual and every fused activation.
    func testDirectConvolutionMatchesTheAVX2Bits() {
        var random = TestRandom(seed: 15)
        var cases: [ConvCase] = []
        for outChannels in [16, 40, 64, 100] { cases.append(ConvCase(batch: 2, channels: 8, height: 9, width: 11, outChannels: outChannels)) }
        cases.append(ConvCase(channels: 5, height: 14, width: 14, outChannels: 70, strideH: 2, strideW: 2))
        cases.append(ConvCase(channels: 6, height: 10, width: 12, outChannels: 32, kernelH: 1, kernelW: 5, dilationH: 1,
                              dilationW: 2, padTop: 0, padLeft: 4, padBottom: 0, padRight: 4))
        cases.append(ConvCase(channels: 3, height: 61, width: 75, outChannels: 24, kernelH: 7, kernelW: 7, strideH: 2, strideW: 2,
                              padTop: 3, padLeft: 3, padBottom: 3, padRight: 3))
        cases.append(ConvCase(batch: 2, channels: 1, height: 40, width: 50, outChannels: 13))
        cases.append(ConvCase(channels: 2, height: 20, width: 66, outChannels: 16, strideH: 2, strideW: 2))
        // The encoder's layer (K = 288, four panels in two pairs) and three panels in one group at K = 180, both at
        // stride 2 across images; the cases above cover 1 (16), 3 (40), 3 + 2 (70) and 3 + 2 + 2 (100) panels.
        cases.append(ConvCase(batch: 2, channels: 20, height: 14, width: 14, outChannels: 40, strideH: 2, strideW: 2))
        cases.append(ConvCase(batch: 3, channels: 32, height: 14, width: 14, outChannels: 64, strideH: 2, strideW: 2))
        assertConvolutionsMatchTheAVX2Bits("conv", cases, random: &random, kernel: ds_conv2d_direct,
                                           packedFloats: { Int(ds_conv2d_direct_packed_size($0.outChannels, $0.taps)) },
                                           pack: { w, c, packed in ds_conv2d_direct_pack(w, c.outChannels, c.taps, packed) },
                                           scratchFloats: { c in var shape = c.shape; return Int(ds_conv2d_direct_scratch_size(&shape, c.batch)) })
    }

    /// Winograd's transforms (16 tiles per zmm): rows of two and three groups of 8 tiles (the last group alone in a
    /// zmm's low half), rows of one group (two tile rows per zmm, the last one alone), odd output sizes, several blocks
    /// of tile rows, two images, 3×3 and 5×5, with a residual and every fused activation. Narrow maps (7×7) run the
    /// AVX2 code on both paths.
    func testWinogradTransformsMatchTheAVX2Bits() {
        var random = TestRandom(seed: 23)
        var cases = [
            ConvCase(channels: 4, height: 30, width: 64, outChannels: 9),            // 32 tiles a row: two pairs of groups
            ConvCase(batch: 2, channels: 5, height: 11, width: 39, outChannels: 7),  // 20 tiles: a pair and one alone
            ConvCase(channels: 6, height: 9, width: 13, outChannels: 5),             // 7 tiles: one group, tile rows in pairs, one left
            ConvCase(batch: 2, channels: 8, height: 16, width: 16, outChannels: 6),  // 8 tiles: one group, rows in whole pairs
            ConvCase(channels: 32, height: 14, width: 14, outChannels: 64),          // the MNIST CNN's second layer
            ConvCase(channels: 33, height: 40, width: 40, outChannels: 17),          // several blocks of tile rows
            ConvCase(channels: 3, height: 7, width: 7, outChannels: 4),              // narrow
        ]
        cases += cases.map { c in
            var c = c
            (c.kernelH, c.kernelW) = (5, 5)
            (c.padTop, c.padLeft, c.padBottom, c.padRight) = (2, 2, 2, 2)
            return c
        }
        assertConvolutionsMatchTheAVX2Bits("winograd", cases, random: &random, kernel: ds_winograd_conv2d,
                                           packedFloats: { ds_winograd_packed_size($0.outChannels, $0.channels, $0.kernelH) },
                                           pack: { w, c, packed in ds_winograd_pack(w, c.outChannels, c.channels, c.kernelH, packed) },
                                           scratchFloats: { c in var shape = c.shape; return ds_winograd_scratch_size(&shape, c.outChannels) })
    }

    /// Each case through `kernel` (ds_conv2d_direct's contract) with the AVX-512 tiles and without, on random input,
    /// filters and bias, under two activations in three (which two rotates with the case), every other one with a
    /// residual.
    private func assertConvolutionsMatchTheAVX2Bits(_ name: String, _ cases: [ConvCase], random: inout TestRandom,
                                                    kernel: ConvCase.Kernel, packedFloats: (ConvCase) -> Int,
                                                    pack: ([Float], ConvCase, UnsafeMutablePointer<Float>) -> Void,
                                                    scratchFloats: (ConvCase) -> Int) {
        for (index, geometry) in cases.enumerated() {
            let x = random.floats(geometry.batch * geometry.channels * geometry.height * geometry.width)
            let w = random.floats(geometry.outChannels * geometry.taps), bias = random.floats(geometry.outChannels)
            let scratch = scratchFloats(geometry)
            for (a, activation) in activations.enumerated() where (a + index) % 3 != 2 {
                let residual: [Float]? = a % 2 == 1
                    ? random.floats(geometry.batch * geometry.outChannels * geometry.outH * geometry.outW) : nil
                assertSameBits("\(name) case \(index), \(activation.map(\.name) ?? "none")") {
                    geometry.run(kernel, x: x, bias: bias, residual: residual,
                                 activation: activation?.kernelDescriptor ?? Activation.none,
                                 packedFloats: packedFloats(geometry), pack: { pack(w, geometry, $0) }, scratchFloats: scratch)
                }
            }
        }
    }

    /// The LSTM cell (16 units per zmm, the rest on the AVX2 loop and its scalar tail): widths that end on 16, on 8
    /// and between, gates from −40 to 40 (exp's clamps) with a NaN and infinities among them.
    func testLSTMCellMatchesTheAVX2Bits() {
        var random = TestRandom(seed: 41)
        for h in [5, 16, 24, 37, 256] {
            let rows = 3, stride = 4 * h + 3
            var gates = random.floats(rows * stride).map { $0 * 40 }
            gates[1] = .nan
            gates[2] = .infinity
            gates[3 * h] = -.infinity
            let cell = random.floats(rows * h)
            assertSameBits("LSTM cell, \(h) units") {
                var c = cell, hidden = [Float](repeating: 0, count: rows * h)
                ds_lstm_cell(gates, stride, rows, h, &c, &hidden)
                return c + hidden
            }
        }
    }

    /// Sigmoid, Tanh, SiLU and GELU over whole runs (16 lanes at a time, a masked last block of 8, the AVX2 loops'
    /// scalar tail after it) and in a GEMM tile's store: lengths around 8 and 16, values from −100 to 100 (exp's clamps)
    /// with NaN, infinities and signed zeros among them, in place and into another array.
    func testSmoothActivationsMatchTheAVX2Bits() {
        var random = TestRandom(seed: 43)
        for n in [1, 7, 8, 9, 15, 16, 17, 24, 31, 40, 1000] {
            var x = random.floats(n).map { $0 * 100 }
            for (index, special) in [Float.nan, .infinity, -.infinity, -0.0, 0, 1e-30].enumerated() where index * 5 < n {
                x[index * 5] = special
            }
            for activation: Activation in [.sigmoid, .tanh, .silu, .gelu] {
                assertSameBits("\(activation.name) over \(n) values") {
                    var y = x
                    ds_activation_apply(&y, n, activation.kernelDescriptor)
                    return y
                }
            }
            assertSameBits("sigmoid of \(n) values into another array") {
                var y = [Float](repeating: 0, count: n)
                ds_vsigmoid(x, &y, n)
                return y
            }
            assertSameBits("tanh of \(n) values into another array") {
                var y = [Float](repeating: 0, count: n)
                ds_vtanh(x, &y, n)
                return y
            }
        }
    }

    /// The depthwise tiles (3×3 and 5×5, stride 1 and 2): maps from 5 to 61 columns (a partial last zmm, one zmm,
    /// several), fewer rows than a tile, padding, and the clamps they apply in their store.
    func testDepthwiseConvolutionMatchesTheAVX2Bits() {
        var random = TestRandom(seed: 16)
        for (kernel, stride, height, width) in [(3, 1, 7, 7), (3, 2, 56, 56), (5, 1, 14, 30), (5, 2, 40, 61), (3, 1, 3, 5),
                                                  (3, 1, 28, 28), (5, 1, 9, 17)] {
            let pad = kernel / 2, channels = 6, planes = 12
            let outH = (height + 2 * pad - kernel) / stride + 1, outW = (width + 2 * pad - kernel) / stride + 1
            let x = random.floats(planes * height * width), w = random.floats(channels * kernel * kernel)
            let bias = random.floats(channels)
            for activation: Activation? in [nil, .relu, .clip(min: -0.3, max: 0.4), .hardSwish] {
                assertSameBits("depthwise \(kernel)×\(kernel)/\(stride) on \(height)×\(width), \(activation.map(\.name) ?? "none")") {
                    var scratch = [Float](repeating: .nan, count: ds_depthwise_scratch_size(kernel, kernel, stride, stride, 1, 1,
                                                                                            outH, outW))
                    var y = [Float](repeating: .nan, count: planes * outH * outW)
                    let status = ds_depthwise_conv2d(x, planes, channels, 1, height, width, w, kernel, kernel, bias, stride, stride,
                                                     pad, pad, 1, 1, outH, outW, &scratch,
                                                     activation?.kernelDescriptor ?? Activation.none, &y)
                    XCTAssertEqual(status, 0)
                    return y
                }
            }
        }
    }
}
