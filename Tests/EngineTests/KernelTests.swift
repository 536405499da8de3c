import CKernels
import XCTest
@testable import Engine

/// The C kernels against plain double-precision references, on both the AVX2 and portable paths.
final class KernelTests: XCTestCase {
    override func tearDown() { ds_force_portable(0) }

    private func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], b: [Float],
                           beta: Float, c: [Float], rowBias: [Float]?, colBias: [Float]?) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    sum += Double(av) * Double(bv)
                }
                var value = Float(Double(alpha) * sum) + (beta == 0 ? 0 : beta * c[i * n + j])
                value += (rowBias?[i] ?? 0) + (colBias?[j] ?? 0)
                out[i * n + j] = value
            }
        }
        return out
    }

    func testGEMMMatchesReference() {
        var random = TestRandom(seed: 1)
        // (9, 80, 40): a last row tile of 3 rows over pairs of 16-column slivers (the wide short tile), both biases.
        let shapes = [(1, 1, 1), (7, 5, 3), (6, 16, 1), (13, 37, 600), (100, 70, 513), (1, 300, 257), (97, 1, 20), (200, 33, 1100),
                      (9, 80, 40)]
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (m, n, k) in shapes {
                for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                    for beta: Float in [0, 1, 0.5] {
                        let a = random.floats(m * k), b = random.floats(k * n), c = random.floats(m * n)
                        let rowBias = m % 2 == 1 ? random.floats(m) : nil, colBias = n % 2 == 0 ? random.floats(n) : nil
                        var out = c
                        ds_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, 0.75, a, transA ? m : k, b, transB ? k : n,
                                 beta, &out, n, rowBias, colBias, Activation.none)
                        let expected = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, a: a, b: b,
                                                 beta: beta, c: c, rowBias: rowBias, colBias: colBias)
                        assertClose(out, expected, tolerance: 1e-4, "\(m)×\(n)×\(k) tA \(transA) tB \(transB) β \(beta) \(String(cString: ds_kernel_isa()))")
                    }
                }
            }
        }
    }

    /// Products at most 128 columns wide read A in place rather than packing it (alpha 1, A not transposed): full
    /// six-row slivers, a packed last sliver of fewer rows, edge columns, K blocks, beta, both biases and ReLU.
    func testNarrowProductsReadingAInPlaceMatchTheReference() {
        var random = TestRandom(seed: 4)
        for (m, n, k) in [(32, 16, 3136), (13, 37, 600), (20, 128, 70), (7, 100, 9), (6, 5, 513)] {
            for transB in [false, true] {
                for beta: Float in [0, 1] {
                    let a = random.floats(m * k), b = random.floats(k * n), c = random.floats(m * n)
                    let rowBias = random.floats(m), colBias = random.floats(n)
                    var out = c
                    ds_sgemm(0, transB ? 1 : 0, m, n, k, 1, a, k, b, transB ? k : n, beta, &out, n, rowBias, colBias,
                             Activation.relu.kernelDescriptor)
                    let expected = reference(transA: false, transB: transB, m: m, n: n, k: k, alpha: 1, a: a, b: b, beta: beta,
                                             c: c, rowBias: rowBias, colBias: colBias).map { max($0, 0) }
                    assertClose(out, expected, tolerance: 1e-4, "\(m)×\(n)×\(k) tB \(transB) β \(beta)")
                }
            }
        }
    }

    /// One or two columns past a multiple of 16 go down the packed A slivers (gemm.c's thin columns) instead of a tile
    /// of their own; each element must still be the tiles' FMA chain. So every column of an n-wide product must have
    /// the bits of the same column in a product widened to a multiple of 16 (whose columns all go through full tiles),
    /// on both AVX2 paths that pack A (pre-packed weights; A transposed), with K blocks (k > 512), row blocks (m > 96),
    /// a last sliver of fewer than six rows, beta 1, a row bias and a clamp applied in the store.
    func testThinEdgeColumnsGiveTheBitsOfFullTiles() {
        var random = TestRandom(seed: 11)
        for (m, k) in [(13, 30), (100, 600), (6, 1), (200, 70)] {
            for n in [2, 17, 18, 49, 50, 130] {
                let wide = (n / 16 + 1) * 16
                let a = random.floats(m * k), c = random.floats(m * wide), rowBias = random.floats(m)
                let b = random.floats(k * n)
                // B widened by zero columns; its first n columns are B's.
                var bWide = [Float](repeating: 0, count: k * wide)
                for p in 0..<k { for j in 0..<n { bWide[p * wide + j] = b[p * n + j] } }
                let aTransposed = (0..<k * m).map { a[($0 % m) * k + $0 / m] }
                var packed = [Float](repeating: 0, count: ds_sgemm_packed_a_size(m, k))
                ds_sgemm_pack_a(0, m, k, 1, a, k, &packed)
                for beta: Float in [0, 1] {
                    for activation in [Activation.none, Activation.clip(min: -0.5, max: 0.5).kernelDescriptor] {
                        let cNarrow = (0..<m * n).map { c[($0 / n) * wide + $0 % n] }
                        var narrow = cNarrow, full = c
                        ds_sgemm_prepacked(m, n, k, packed, 0, b, n, beta, &narrow, n, rowBias, nil, activation)
                        ds_sgemm_prepacked(m, wide, k, packed, 0, bWide, wide, beta, &full, wide, rowBias, nil, activation)
                        var transposed = cNarrow, transposedFull = c
                        ds_sgemm(1, 0, m, n, k, 1, aTransposed, m, b, n, beta, &transposed, n, rowBias, nil, activation)
                        ds_sgemm(1, 0, m, wide, k, 1, aTransposed, m, bWide, wide, beta, &transposedFull, wide, rowBias,
                                 nil, activation)
                        let label = "\(m)×\(n)×\(k) β \(beta) activation \(activation.kind.rawValue) \(String(cString: ds_kernel_isa()))"
                        XCTAssertEqual(narrow, (0..<m * n).map { full[($0 / n) * wide + $0 % n] }, "prepacked \(label)")
                        XCTAssertEqual(transposed, (0..<m * n).map { transposedFull[($0 / n) * wide + $0 % n] },
                                       "Aᵀ \(label)")
                    }
                }
            }
        }
    }

    func testPrepackedGEMMAndFusedActivations() {
        var random = TestRandom(seed: 2)
        for (m, n, k) in [(64, 196, 800), (5, 9, 700), (130, 17, 3)] {
            let a = random.floats(m * k), b = random.floats(k * n), bias = random.floats(m)
            var packed = [Float](repeating: 0, count: ds_sgemm_packed_a_size(m, k))
            ds_sgemm_pack_a(0, m, k, 1, a, k, &packed)
            let linear = reference(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, b: b, beta: 0,
                                   c: [], rowBias: bias, colBias: nil)
            let activations: [(Activation, (Float) -> Float)] = [
                (.relu, { max($0, 0) }), (.leakyRelu(alpha: 0.1), { $0 >= 0 ? $0 : 0.1 * $0 }),
                (.clip(min: -1, max: 2), { min(max($0, -1), 2) }), (.sigmoid, { 1 / (1 + exp(-$0)) }), (.tanh, { tanh($0) }),
                (.silu, { $0 / (1 + exp(-$0)) }), (.gelu, { $0 / 2 * (1 + erf($0 / Float(2).squareRoot())) }),
            ]
            for (activation, function) in activations {
                var out = [Float](repeating: .nan, count: m * n)
                ds_sgemm_prepacked(m, n, k, packed, 0, b, n, 0, &out, n, bias, nil, activation.kernelDescriptor)
                assertClose(out, linear.map(function), tolerance: 1e-4, "\(m)×\(n)×\(k) \(activation)")
            }
        }
    }

    /// Full tiles apply the activation in their store (smooth ones on the tile just stored), edge tiles and the
    /// standalone operator through ds_activation_apply: on rows of a multiple of 8 columns the bits are the same, so a
    /// fused Conv+SiLU answers exactly what Conv then SiLU does.
    func testFusedActivationsGiveTheBitsOfASeparatePass() {
        var random = TestRandom(seed: 5)
        let (m, n, k) = (20, 48, 30)   // rows 18–19 are an edge tile; every row's 48 columns are whole vectors
        let a = random.floats(m * k).map { $0 * 3 }, b = random.floats(k * n), bias = random.floats(m)
        var packed = [Float](repeating: 0, count: ds_sgemm_packed_a_size(m, k))
        ds_sgemm_pack_a(0, m, k, 1, a, k, &packed)
        var plain = [Float](repeating: .nan, count: m * n)
        ds_sgemm_prepacked(m, n, k, packed, 0, b, n, 0, &plain, n, bias, nil, Activation.none)
        for activation in [Activation.relu, .hardSwish, .sigmoid, .tanh, .silu, .gelu] {
            var fused = [Float](repeating: .nan, count: m * n)
            ds_sgemm_prepacked(m, n, k, packed, 0, b, n, 0, &fused, n, bias, nil, activation.kernelDescriptor)
            var separate = plain
            separate.withUnsafeMutableBufferPointer { activation.apply($0) }
            XCTAssertEqual(fused, separate, "\(activation)")
        }
    }

    /// The fused LSTM cell gives the bits of the per-gate path it replaces (σ and tanh a gate at a time, then the
    /// state update with separate multiplies and adds), with a hidden size that leaves a scalar tail and gate rows
    /// further apart than 4h, on both paths; pre-activations span the sigmoid's and tanh's saturation.
    func testFusedLSTMCellGivesTheBitsOfThePerGatePath() {
        var random = TestRandom(seed: 17)
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            let (rows, h, stride) = (3, 21, 4 * 21 + 5)
            let gates = random.floats(rows * stride).map { $0 * 12 }, start = random.floats(rows * h).map { $0 * 2 }
            var cell = start, hidden = [Float](repeating: .nan, count: rows * h)
            ds_lstm_cell(gates, stride, rows, h, &cell, &hidden)
            for r in 0..<rows {
                var g = Array(gates[(r * stride)..<(r * stride + 4 * h)])
                g.withUnsafeMutableBufferPointer { p in
                    let base = p.baseAddress!
                    for gate in 0..<3 { ds_vsigmoid(base + gate * h, base + gate * h, h) }   // i, o, f
                    ds_vtanh(base + 3 * h, base + 3 * h, h)                                // c̃
                }
                let c = (0..<h).map { i in
                    let product = g[2 * h + i] * start[r * h + i], fresh = g[i] * g[3 * h + i]
                    return product + fresh
                }
                var t = c
                ds_vtanh(c, &t, h)
                for i in 0..<h {
                    XCTAssertEqual(cell[r * h + i], c[i], "cell, row \(r), unit \(i), portable \(portable)")
                    XCTAssertEqual(hidden[r * h + i], g[h + i] * t[i], "hidden, row \(r), unit \(i), portable \(portable)")
                }
            }
        }
    }

    /// A one-column product with pre-packed A (a 1×1 convolution on a 1×1 map) runs its own kernel: rows that leave a
    /// sliver partly empty, K blocks of 512 and a K that leaves a tail, beta, both biases, an activation, an output
    /// column with a stride, and B stored either way; on both paths.
    func testOneColumnPrepackedProducts() {
        var random = TestRandom(seed: 9)
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (m, k, ldc, transB) in [(1000, 1030, 1, false), (13, 70, 3, true), (5, 3, 1, false), (64, 512, 2, true)] {
                let a = random.floats(m * k), b = random.floats(k), start = random.floats(m * ldc)
                let rowBias = random.floats(m), colBias = random.floats(1)
                var packed = [Float](repeating: 0, count: ds_sgemm_packed_a_size(m, k))
                ds_sgemm_pack_a(0, m, k, 1, a, k, &packed)
                var out = start
                let act = Activation.leakyRelu(alpha: 0.1)
                ds_sgemm_prepacked(m, 1, k, packed, transB ? 1 : 0, b, transB ? k : 1, 0.5, &out, ldc, rowBias, colBias,
                                   act.kernelDescriptor)
                let linear = reference(transA: false, transB: false, m: m, n: 1, k: k, alpha: 1, a: a, b: b, beta: 0.5,
                                       c: (0..<m).map { start[$0 * ldc] }, rowBias: rowBias, colBias: colBias)
                assertClose((0..<m).map { out[$0 * ldc] }, linear.map { $0 >= 0 ? $0 : 0.1 * $0 }, tolerance: 1e-4,
                            "m \(m) k \(k) ldc \(ldc) portable \(portable)")
                for i in 0..<m { for j in 1..<ldc { XCTAssertEqual(out[i * ldc + j], start[i * ldc + j], "between the rows") } }
            }
        }
    }

    func testPrepackedRightOperand() {
        var random = TestRandom(seed: 8)
        for (m, n, k) in [(2, 3, 4), (32, 128, 3136), (7, 2100, 600), (33, 10, 1)] {
            for (transA, transB) in [(false, false), (false, true), (true, true)] {
                let a = random.floats(m * k), b = random.floats(k * n), colBias = random.floats(n)
                // The micro-kernel reads packed B with aligned loads: 64-byte alignment is part of the contract.
                let size = ds_sgemm_packed_b_size(k, n)
                let raw = UnsafeMutableRawPointer.allocate(byteCount: size * 4, alignment: 64)
                defer { raw.deallocate() }
                let packed = raw.bindMemory(to: Float.self, capacity: size)
                ds_sgemm_pack_b(transB ? 1 : 0, k, n, b, transB ? k : n, packed)
                var out = [Float](repeating: .nan, count: m * n)
                ds_sgemm_prepacked_b(transA ? 1 : 0, m, n, k, 2, a, transA ? m : k, packed, 0, &out, n, nil, colBias, Activation.none)
                let expected = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: a, b: b, beta: 0,
                                         c: [], rowBias: nil, colBias: colBias)
                assertClose(out, expected, tolerance: 1e-4, "\(m)×\(n)×\(k) tA \(transA) tB \(transB)")
            }
        }
    }

    /// ds_softmax_rows against a double-precision softmax: row lengths across the vector widths and their tails,
    /// large offsets (the maximum subtracted first), a row with -inf entries, and a NaN that spoils only its own row.
    func testSoftmaxRowsMatchTheReference() {
        var random = TestRandom(seed: 9)
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for length in [1, 3, 8, 13, 16, 31, 32, 33, 70, 128] {
                let rows = 3
                var x = random.floats(rows * length).map { $0 * 20 + 50 }
                x[length] = -.infinity   // row 1 keeps finite entries beside it (unless it has only one)
                var y = [Float](repeating: .nan, count: x.count)
                ds_softmax_rows(x, &y, rows, length)
                for r in 0..<rows {
                    let row = x[(r * length)..<((r + 1) * length)].map(Double.init)
                    let top = row.max()!
                    let sum = row.map { exp($0 - top) }.reduce(0, +)
                    for j in 0..<length where top.isFinite {
                        XCTAssertEqual(Double(y[r * length + j]), exp(row[j] - top) / sum, accuracy: 1e-6,
                                       "length \(length) row \(r) column \(j) portable \(portable)")
                    }
                }
                x[2 * length] = .nan
                ds_softmax_rows(x, &y, rows, length)
                XCTAssertTrue(y[(2 * length)..<(3 * length)].allSatisfy(\.isNaN), "a NaN makes its row NaN")
                XCTAssertFalse(y[0..<length].contains(where: \.isNaN), "and only its row")
            }
        }
    }

    func testVectorisedFunctionsAccuracy() {
        // exp saturates at exp(88.376) ≈ 2.4e38 (the Cephes range reduction's limit), so test below that.
        let xs = stride(from: Float(-90), through: 88.3, by: 0.37).map { $0 } + [0, 1e-6, -1e-6, 88.3, -104]
        var exps = xs, sigmoids = xs, tanhs = xs
        ds_vexp(xs, &exps, xs.count)
        ds_vsigmoid(xs, &sigmoids, xs.count)
        ds_vtanh(xs, &tanhs, xs.count)
        for (i, x) in xs.enumerated() {
            let e = Foundation.exp(Double(x))
            if e < Double(Float.greatestFiniteMagnitude) && e > 1e-37 {
                XCTAssertEqual(Double(exps[i]), e, accuracy: e * 2e-6, "exp(\(x))")
            }
            XCTAssertEqual(Double(sigmoids[i]), 1 / (1 + Foundation.exp(-Double(x))), accuracy: 1e-6, "sigmoid(\(x))")
            XCTAssertEqual(Double(tanhs[i]), Foundation.tanh(Double(x)), accuracy: 2e-7, "tanh(\(x))")
        }
    }

    func testIm2colAndCol2imAreAdjoint() {
        // <im2col(x), c> = <x, col2im(c)> for any x and c, which pins both index maps to each other.
        var random = TestRandom(seed: 4)
        let (channels, height, width, kh, kw) = (2, 5, 7, 3, 2)
        let (padTop, padLeft, strideH, strideW, dilationH, dilationW) = (1, 2, 2, 1, 1, 2)
        let outH = (height + 2 * padTop - (kh - 1) * dilationH - 1) / strideH + 1
        let outW = (width + 2 * padLeft - (kw - 1) * dilationW - 1) / strideW + 1
        let x = random.floats(channels * height * width)
        let c = random.floats(channels * kh * kw * outH * outW)
        var columns = [Float](repeating: 0, count: c.count)
        ds_im2col(x, channels, height, width, kh, kw, padTop, padLeft, strideH, strideW, dilationH, dilationW, 0, outH, outW, &columns, outH * outW)
        var folded = [Float](repeating: 0, count: x.count)
        ds_col2im_add(c, channels, height, width, kh, kw, padTop, padLeft, strideH, strideW, dilationH, dilationW, outH, outW, &folded, outH * outW)
        let left = zip(columns, c).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, folded).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        XCTAssertEqual(left, right, accuracy: 1e-4)
    }

    /// The fold (ConvTranspose's scatter) adds exactly what a per-element loop adds, in the same order, for strides 1 to 3
    /// (stride 2 has its own AVX2 loop), dilations, pads that cut columns off either end and rows long enough for
    /// the vector loops, on both kernel paths; a −0 the fold never touches stays −0.
    func testCol2imMatchesTheElementLoopBitForBit() {
        defer { ds_force_portable(0) }
        var random = TestRandom(seed: 63)
        let cases: [(h: Int, w: Int, inH: Int, inW: Int, kh: Int, kw: Int, pt: Int, pl: Int, sh: Int, sw: Int, dh: Int, dw: Int)] = [
            (14, 14, 7, 7, 4, 4, 1, 1, 2, 2, 1, 1),        // the GAN's upsampling
            (29, 61, 14, 30, 3, 3, 0, 1, 2, 2, 1, 1),
            (20, 45, 20, 45, 3, 5, 1, 2, 1, 1, 1, 1),
            (30, 100, 10, 33, 3, 4, 2, 3, 3, 3, 1, 2),
            (9, 40, 5, 19, 2, 3, 4, 7, 2, 2, 2, 3),
        ]
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for c in cases {
                let channels = 2
                let col = random.floats(channels * c.kh * c.kw * c.inH * c.inW)
                var start = random.floats(channels * c.h * c.w)
                start[0] = -0.0
                var expected = start
                var index = 0
                for ch in 0..<channels {
                    for i in 0..<c.kh {
                        for j in 0..<c.kw {
                            for oy in 0..<c.inH {
                                for ox in 0..<c.inW {
                                    defer { index += 1 }
                                    let iy = oy * c.sh - c.pt + i * c.dh, ix = ox * c.sw - c.pl + j * c.dw
                                    guard iy >= 0, iy < c.h, ix >= 0, ix < c.w else { continue }
                                    expected[(ch * c.h + iy) * c.w + ix] += col[index]
                                }
                            }
                        }
                    }
                }
                var actual = start
                ds_col2im_add(col, channels, c.h, c.w, c.kh, c.kw, c.pt, c.pl, c.sh, c.sw, c.dh, c.dw, c.inH, c.inW, &actual,
                              c.inH * c.inW)
                XCTAssertEqual(actual.map(\.bitPattern), expected.map(\.bitPattern), "\(c), portable \(portable)")
            }
        }
    }

    /// The 2-d unfold (phase-split rows, any stride) equals the N-d reference unfold exactly, for strides 1 to 3,
    /// dilations, asymmetric and oversized pads, and bands of output rows taken separately.
    func testIm2colMatchesTheReferenceUnfoldInBands() {
        var random = TestRandom(seed: 62)
        let cases: [(h: Int, w: Int, kh: Int, kw: Int, pt: Int, pl: Int, pb: Int, pr: Int, sh: Int, sw: Int, dh: Int, dw: Int)] = [
            (9, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), (12, 12, 7, 7, 3, 3, 3, 3, 2, 2, 1, 1), (10, 13, 3, 3, 0, 1, 1, 0, 2, 2, 1, 1),
            (8, 17, 3, 5, 2, 4, 0, 1, 3, 3, 1, 2), (6, 9, 2, 3, 0, 0, 0, 0, 1, 2, 2, 3), (5, 4, 3, 3, 2, 5, 2, 5, 1, 3, 1, 1),
        ]
        for c in cases {
            let channels = 3
            let outH = (c.h + c.pt + c.pb - (c.kh - 1) * c.dh - 1) / c.sh + 1
            let outW = (c.w + c.pl + c.pr - (c.kw - 1) * c.dw - 1) / c.sw + 1
            let geometry = SpatialWindow.Resolved(kernel: [c.kh, c.kw], strides: [c.sh, c.sw], dilations: [c.dh, c.dw],
                                                  padBegin: [c.pt, c.pl], padEnd: [c.pb, c.pr], output: [outH, outW])
            let x = random.floats(channels * c.h * c.w)
            let k = channels * c.kh * c.kw, pixels = outH * outW
            var expected = [Float](repeating: .nan, count: k * pixels)
            x.withUnsafeBufferPointer { image in
                Im2Col.unfold(image.baseAddress!, channels: channels, spatial: [c.h, c.w], geometry, pixels: 0..<pixels,
                              padding: 0, into: &expected, ld: pixels)
            }
            for band in [outH, 2, 1] {
                var columns = [Float](repeating: .nan, count: k * pixels)
                for first in stride(from: 0, to: outH, by: band) {
                    let rows = min(band, outH - first)
                    columns.withUnsafeMutableBufferPointer { out in
                        ds_im2col(x, channels, c.h, c.w, c.kh, c.kw, c.pt, c.pl, c.sh, c.sw, c.dh, c.dw, first, rows, outW,
                                  out.baseAddress! + first * outW, pixels)
                    }
                }
                XCTAssertEqual(columns.map(\.bitPattern), expected.map(\.bitPattern), "\(c), bands of \(band)")
            }
        }
    }

    /// 3×3/2 max pooling (ResNet's stem) on its AVX2 path gives the general loop's bits: padding on either side or none,
    /// maps too narrow for a vector, an extra output column whose window runs off the image (ceil mode), NaNs.
    func testThreeByThreeStrideTwoMaxPoolMatchesTheGeneralLoop() {
        var random = TestRandom(seed: 62)
        for (height, width, pad, extra) in [(112, 112, 1, 0), (7, 37, 0, 0), (9, 2, 1, 0), (5, 40, 2, 0), (17, 35, 1, 1), (3, 3, 0, 0)] {
            let planes = 3
            let outH = (height + 2 * pad - 3) / 2 + 1 + extra, outW = (width + 2 * pad - 3) / 2 + 1 + extra
            var x = random.floats(planes * height * width)
            x[5] = .nan
            x[planes * height * width / 2] = .nan
            // Output columns whose tap j reads inside the image, as the Pool op computes them.
            let begin = (0..<3).map { j in (0..<outW).first { 2 * $0 - pad + j >= 0 } ?? outW }
            let end = (0..<3).map { j in ((0..<outW).last { 2 * $0 - pad + j < width } ?? -1) + 1 }
            let (fast, general) = maxPoolOnBothPaths(count: planes * outH * outW) { y in
                ds_pool2d(x, planes, height, width, 3, 3, 2, 2, pad, pad, 1, 1, outH, outW, begin, end, nil, y)
            }
            XCTAssertEqual(fast.map(\.bitPattern), general.map(\.bitPattern), "\(height)×\(width) pad \(pad)")
        }
    }

    /// 2×2 stride-2 max pooling has its own AVX2 loop; it must agree with the general one (forced portable),
    /// NaNs skipped and odd widths (a scalar tail, a column left over) included.
    func testTwoByTwoMaxPoolMatchesTheGeneralLoop() {
        var random = TestRandom(seed: 61)
        for (height, width) in [(28, 28), (14, 14), (7, 37), (2, 17), (9, 2)] {
            let planes = 3, outH = height / 2, outW = width / 2
            var x = random.floats(planes * height * width)
            x[5] = .nan
            let begin = [Int](repeating: 0, count: 2), end = [Int](repeating: outW, count: 2)
            let (fast, general) = maxPoolOnBothPaths(count: planes * outH * outW) { y in
                ds_pool2d(x, planes, height, width, 2, 2, 2, 2, 0, 0, 1, 1, outH, outW, begin, end, nil, y)
            }
            XCTAssertEqual(fast.map(\.bitPattern), general.map(\.bitPattern), "\(height)×\(width)")
        }
    }

    /// `pool` run into a fresh output of `count` floats on the AVX2 path, then on the general (portable) one.
    private func maxPoolOnBothPaths(count: Int, _ pool: (UnsafeMutablePointer<Float>) -> Void) -> (fast: [Float], general: [Float]) {
        func run() -> [Float] {
            var y = [Float](repeating: 0, count: count)
            y.withUnsafeMutableBufferPointer { pool($0.baseAddress!) }
            return y
        }
        ds_force_portable(0)
        let fast = run()
        ds_force_portable(1)
        let general = run()
        ds_force_portable(0)
        return (fast, general)
    }
}
