import CKernels
import XCTest
@testable import Engine

/// The depthwise kernel (CKernels/depthwise.c) against a direct double-precision loop, over the
/// strides, dilations, paddings, kernel sizes and row widths that exercise its phase-split padded
/// plane (refilled plane after plane), its four-row tiles, its 32/16/8-wide blocks and its partial
/// stores, on the AVX2 and portable paths.
final class DepthwiseConvTests: XCTestCase {
    override func tearDown() { ds_force_portable(0) }

    private struct Case {
        let height, width, kernel, stride, dilation, padBegin, padEnd: Int
        /// The left padding where it differs from the top one (padBegin).
        var padLeft: Int? = nil
        var left: Int { padLeft ?? padBegin }
        var outH: Int { (height + padBegin + padEnd - ((kernel - 1) * dilation + 1)) / stride + 1 }
        var outW: Int { (width + left + padEnd - ((kernel - 1) * dilation + 1)) / stride + 1 }
    }

    /// Output plane `plane` with filter plane % channels over input plane plane / filtersPerPlane.
    private func reference(_ x: [Float], _ w: [Float], _ bias: [Float], planes: Int, channels: Int, filtersPerPlane: Int = 1,
                           _ c: Case) -> [Float] {
        var out = [Float]()
        for plane in 0..<planes {
            let ch = plane % channels, source = plane / filtersPerPlane
            for oy in 0..<c.outH {
                for ox in 0..<c.outW {
                    var sum = Double(bias[ch])
                    for i in 0..<c.kernel {
                        for j in 0..<c.kernel {
                            let iy = oy * c.stride - c.padBegin + i * c.dilation, ix = ox * c.stride - c.left + j * c.dilation
                            guard iy >= 0, iy < c.height, ix >= 0, ix < c.width else { continue }
                            sum += Double(x[(source * c.height + iy) * c.width + ix]) * Double(w[(ch * c.kernel + i) * c.kernel + j])
                        }
                    }
                    out.append(Float(sum))
                }
            }
        }
        return out
    }

    /// A geometry the tiles take (3×3 or 5×5, stride 1 or 2) with 1…maxHeight rows, 1…maxWidth columns and top, left
    /// and end paddings of 0…maxPad; nil when it has no output.
    private static func randomTiledCase(_ random: inout TestRandom, maxHeight: Int, maxWidth: Int, maxPad: Int) -> Case? {
        func below(_ bound: Int) -> Int { min(bound - 1, Int((random.next() + 1) / 2 * Float(bound))) }
        let kernel = below(2) == 0 ? 3 : 5, stride = 1 + below(2)
        let c = Case(height: 1 + below(maxHeight), width: 1 + below(maxWidth), kernel: kernel, stride: stride, dilation: 1,
                     padBegin: below(maxPad + 1), padEnd: below(maxPad + 1), padLeft: below(maxPad + 1))
        return c.outH >= 1 && c.outW >= 1 ? c : nil
    }

    func testMatchesTheDirectLoop() {
        var random = TestRandom(seed: 41)
        let cases = [
            Case(height: 7, width: 7, kernel: 3, stride: 1, dilation: 1, padBegin: 1, padEnd: 1),
            Case(height: 112, width: 112, kernel: 3, stride: 2, dilation: 1, padBegin: 0, padEnd: 1),   // Keras 'same', stride 2
            Case(height: 9, width: 45, kernel: 5, stride: 1, dilation: 1, padBegin: 2, padEnd: 2),      // 45 = 32 + 8 + 5: every block size
            Case(height: 10, width: 61, kernel: 3, stride: 3, dilation: 1, padBegin: 1, padEnd: 0),
            Case(height: 11, width: 13, kernel: 3, stride: 1, dilation: 2, padBegin: 2, padEnd: 2),
            Case(height: 4, width: 4, kernel: 1, stride: 1, dilation: 1, padBegin: 0, padEnd: 0),
            Case(height: 3, width: 40, kernel: 7, stride: 2, dilation: 1, padBegin: 3, padEnd: 3),
            Case(height: 2, width: 3, kernel: 3, stride: 1, dilation: 1, padBegin: 4, padEnd: 4),        // more padding than image
            Case(height: 12, width: 12, kernel: 9, stride: 1, dilation: 1, padBegin: 4, padEnd: 4),      // 81 taps: heap tap table
            // The four-row tiles (3×3 and 5×5, stride 1 or 2): rows and columns that leave an overlapping last tile, maps
            // narrower than one vector or shorter than one tile, and the stride-2 deinterleave's overlapping last block.
            Case(height: 9, width: 20, kernel: 3, stride: 1, dilation: 1, padBegin: 1, padEnd: 1),
            Case(height: 6, width: 5, kernel: 3, stride: 1, dilation: 1, padBegin: 1, padEnd: 1),
            Case(height: 5, width: 9, kernel: 3, stride: 2, dilation: 1, padBegin: 1, padEnd: 1),
            Case(height: 13, width: 41, kernel: 5, stride: 2, dilation: 1, padBegin: 2, padEnd: 2),
            // Stride 2 on small maps, where whole planes are split at once (split2_rows_interior_avx2): 7 slots a row
            // (two overlapping blocks of four), and 2 (the scalar tail, with edge slots on both sides).
            Case(height: 14, width: 14, kernel: 3, stride: 2, dilation: 1, padBegin: 0, padEnd: 1),
            Case(height: 7, width: 6, kernel: 3, stride: 2, dilation: 1, padBegin: 1, padEnd: 1),
            Case(height: 16, width: 37, kernel: 3, stride: 2, dilation: 1, padBegin: 1, padEnd: 1),
            // The AVX-512 tiles read the plane in place: different top and left padding, bands of one to three rows
            // after the four-row ones, maps wider than two zmm (unmasked interior tiles between masked border ones).
            Case(height: 7, width: 70, kernel: 3, stride: 1, dilation: 1, padBegin: 2, padEnd: 1, padLeft: 0),
            Case(height: 10, width: 75, kernel: 5, stride: 2, dilation: 1, padBegin: 0, padEnd: 2, padLeft: 2),
            Case(height: 6, width: 100, kernel: 3, stride: 2, dilation: 1, padBegin: 1, padEnd: 1, padLeft: 0),
            Case(height: 5, width: 50, kernel: 3, stride: 1, dilation: 1, padBegin: 1, padEnd: 1, padLeft: 3),
        ]
        // A clamp (none, ReLU, Clip) runs in the four-row tiles' store, anything else over the plane afterwards.
        let activations = [Activation.none, ds_activation(kind: DS_ACTIVATION_RELU, alpha: 0, beta: 0),
                           ds_activation(kind: DS_ACTIVATION_CLIP, alpha: -0.5, beta: 0.5),
                           ds_activation(kind: DS_ACTIVATION_HARD_SWISH, alpha: 0, beta: 0)]
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (index, c) in cases.enumerated() {
                let activation = activations[index % activations.count]
                let channels = 3, planes = 6   // two images of three channels
                let x = random.floats(planes * c.height * c.width), w = random.floats(channels * c.kernel * c.kernel)
                let bias = random.floats(channels)
                var scratch = [Float](repeating: .nan, count: ds_depthwise_scratch_size(c.kernel, c.kernel, c.stride, c.stride,
                                                                                        c.dilation, c.dilation, c.outH, c.outW))
                var y = [Float](repeating: .nan, count: planes * c.outH * c.outW)
                let status = ds_depthwise_conv2d(x, planes, channels, 1, c.height, c.width, w, c.kernel, c.kernel, bias, c.stride, c.stride,
                                                 c.padBegin, c.left, c.dilation, c.dilation, c.outH, c.outW, &scratch,
                                                 activation, &y)
                XCTAssertEqual(status, 0)
                var expected = reference(x, w, bias, planes: planes, channels: channels, c)
                ds_activation_apply(&expected, expected.count, activation)
                assertClose(y, expected, tolerance: 1e-5, "\(c) \(activation.kind) \(String(cString: ds_kernel_isa()))")
            }
        }
    }

    /// Random geometries for the tiles of every path (on AVX-512 the in-place ones, whose masks and zero rows depend on
    /// where each tile meets the borders): maps of 1–70 columns and 1–20 rows, 3×3 and 5×5, stride 1 and 2, top, left
    /// and end paddings of 0–6 each (more than the kernel, so some tiles read nothing but padding).
    func testRandomGeometriesMatchTheDirectLoop() {
        var random = TestRandom(seed: 59)
        var checked = 0
        while checked < 120 {
            guard let c = Self.randomTiledCase(&random, maxHeight: 20, maxWidth: 70, maxPad: 6) else { continue }
            let (kernel, stride) = (c.kernel, c.stride)
            checked += 1
            let channels = 2, planes = 4
            let x = random.floats(planes * c.height * c.width), w = random.floats(channels * kernel * kernel)
            let bias = random.floats(channels)
            var scratch = [Float](repeating: .nan, count: ds_depthwise_scratch_size(kernel, kernel, stride, stride, 1, 1,
                                                                                    c.outH, c.outW))
            var y = [Float](repeating: .nan, count: planes * c.outH * c.outW)
            let relu = ds_activation(kind: DS_ACTIVATION_RELU, alpha: 0, beta: 0)
            XCTAssertEqual(ds_depthwise_conv2d(x, planes, channels, 1, c.height, c.width, w, kernel, kernel, bias, stride,
                                               stride, c.padBegin, c.left, 1, 1, c.outH, c.outW, &scratch, relu, &y), 0)
            var expected = reference(x, w, bias, planes: planes, channels: channels, c)
            ds_activation_apply(&expected, expected.count, relu)
            assertClose(y, expected, tolerance: 1e-5, "\(c) \(String(cString: ds_kernel_isa()))")
        }
    }

    /// Several filters per input plane: a channel multiplier (each input channel read by 3 filters in a row) and a
    /// one-channel image under a bank of 5 filters, as Conv runs them. Each input plane is padded once for its filters
    /// (the copy is reused while the source stays the same), including across the runs of planes the threads take.
    func testSeveralFiltersPerInputPlane() {
        var random = TestRandom(seed: 47)
        let cases = [
            Case(height: 28, width: 28, kernel: 5, stride: 1, dilation: 1, padBegin: 2, padEnd: 2),   // the digit CNN's first layer
            Case(height: 28, width: 28, kernel: 3, stride: 2, dilation: 1, padBegin: 1, padEnd: 1),   // the encoder's
            Case(height: 9, width: 20, kernel: 3, stride: 1, dilation: 2, padBegin: 2, padEnd: 2),    // the untiled kernel
        ]
        // (filters per input plane, filters = output channels per image, images)
        let layouts = [(3, 6, 2), (5, 5, 3), (1, 4, 1)]
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for c in cases {
                for (perPlane, channels, images) in layouts {
                    let planes = channels * images, inputs = planes / perPlane
                    let x = random.floats(inputs * c.height * c.width), w = random.floats(channels * c.kernel * c.kernel)
                    let bias = random.floats(channels)
                    var scratch = [Float](repeating: .nan, count: ds_depthwise_scratch_size(c.kernel, c.kernel, c.stride, c.stride,
                                                                                            c.dilation, c.dilation, c.outH, c.outW))
                    var y = [Float](repeating: .nan, count: planes * c.outH * c.outW)
                    let relu = ds_activation(kind: DS_ACTIVATION_RELU, alpha: 0, beta: 0)
                    XCTAssertEqual(ds_depthwise_conv2d(x, planes, channels, perPlane, c.height, c.width, w, c.kernel, c.kernel, bias,
                                                       c.stride, c.stride, c.padBegin, c.padBegin, c.dilation, c.dilation,
                                                       c.outH, c.outW, &scratch, relu, &y), 0)
                    var expected = reference(x, w, bias, planes: planes, channels: channels, filtersPerPlane: perPlane, c)
                    ds_activation_apply(&expected, expected.count, relu)
                    assertClose(y, expected, tolerance: 1e-5, "\(c), \(perPlane) filters per plane, portable \(portable)")
                }
            }
        }
    }

    /// Filters sharing an input plane run two at a time (planes_bank_avx2: two filters × two rows × two column blocks,
    /// tap by tap) and must give, bit for bit, what each filter gives alone. Random geometries (3×3 and 5×5, stride 1
    /// and 2, 1–40 columns and 1–13 rows, paddings 0–3), odd and even banks (the last filter of an odd one runs alone),
    /// a clamp in the store and an activation after it.
    func testBankedFiltersGiveTheBitsOfEachFilterAlone() {
        var random = TestRandom(seed: 71)
        let activations = [ds_activation(kind: DS_ACTIVATION_CLIP, alpha: -0.5, beta: 0.5),
                           ds_activation(kind: DS_ACTIVATION_HARD_SWISH, alpha: 0, beta: 0), Activation.none]
        var checked = 0
        while checked < 40 {
            guard let c = Self.randomTiledCase(&random, maxHeight: 13, maxWidth: 40, maxPad: 3) else { continue }
            let (kernel, stride) = (c.kernel, c.stride)
            let activation = activations[checked % activations.count]
            checked += 1
            let filters = [2, 3, 5, 8][checked % 4], images = 2
            let x = random.floats(images * c.height * c.width), w = random.floats(filters * kernel * kernel)
            let bias = random.floats(filters)
            let plane = c.outH * c.outW
            var scratch = [Float](repeating: .nan, count: ds_depthwise_scratch_size(kernel, kernel, stride, stride, 1, 1,
                                                                                    c.outH, c.outW))
            var y = [Float](repeating: .nan, count: images * filters * plane)
            XCTAssertEqual(ds_depthwise_conv2d(x, images * filters, filters, filters, c.height, c.width, w, kernel, kernel, bias,
                                               stride, stride, c.padBegin, c.left, 1, 1, c.outH, c.outW, &scratch, activation, &y), 0)
            for f in 0..<filters {
                var alone = [Float](repeating: .nan, count: images * plane)
                let filter = Array(w[(f * kernel * kernel)..<((f + 1) * kernel * kernel)])
                XCTAssertEqual(ds_depthwise_conv2d(x, images, 1, 1, c.height, c.width, filter, kernel, kernel, [bias[f]], stride,
                                                   stride, c.padBegin, c.left, 1, 1, c.outH, c.outW, &scratch, activation,
                                                   &alone), 0)
                for n in 0..<images {
                    let banked = Array(y[((n * filters + f) * plane)..<((n * filters + f + 1) * plane)])
                    let single = Array(alone[(n * plane)..<((n + 1) * plane)])
                    XCTAssertEqual(banked.map(\.bitPattern), single.map(\.bitPattern),
                                   "\(c), filter \(f) of \(filters), image \(n), \(activation.kind)")
                }
            }
            var expected = reference(x, w, bias, planes: images * filters, channels: filters, filtersPerPlane: filters, c)
            ds_activation_apply(&expected, expected.count, activation)
            assertClose(y, expected, tolerance: 1e-5, "\(c), \(filters) filters")
        }
    }

    /// The Conv operator sends every convolution whose filters each read one input channel to the depthwise kernel: a
    /// bank of filters over a one-channel image and a channel multiplier (group = channels, 2 filters each), with
    /// constant filters and with filters given at run time, a residual Add and a ReLU after it (the Add stays a separate
    /// step: the kernel's store takes no residual). Checked against a double-precision grouped convolution.
    func testConvOperatorRunsFiltersOfOneInputChannelOnTheDepthwiseKernel() throws {
        var random = TestRandom(seed: 53)
        // (x, W, group, output): stride 2, pads 1 on every side, 3×3 filters.
        let layouts: [([Int], [Int], Int, [Int])] = [([2, 1, 13, 11], [5, 1, 3, 3], 1, [2, 5, 7, 6]),
                                                    ([2, 3, 9, 10], [6, 1, 3, 3], 3, [2, 6, 5, 5])]
        for (x, w, group, output) in layouts {
            let weights = random.floats(w.reduce(1, *)), bias = random.floats(w[0])
            let plans = try convAddReluPlans(x: x, weightShape: w, weights: weights, bias: bias, output: output,
                                             attributes: [ModelBuilder.int("group", group), ModelBuilder.ints("pads", [1, 1, 1, 1]),
                                                          ModelBuilder.ints("strides", [2, 2])])
            let input = random.floats(x.reduce(1, *)), residual = random.floats(output.reduce(1, *))
            // Output plane n·Cout + o reads input plane n·Cin + o / (Cout / group): the kernel test's reference.
            let geometry = Case(height: x[2], width: x[3], kernel: 3, stride: 2, dilation: 1, padBegin: 1, padEnd: 1)
            let sums = reference(input, weights, bias, planes: x[0] * w[0], channels: w[0], filtersPerPlane: w[0] / group,
                                 geometry)
            let expected = zip(sums, residual).map { max(0, $0 + $1) }
            let feeds = ["x": Tensor(shape: x, floats: input), "r": Tensor(shape: output, floats: residual)]
            let constant = try XCTUnwrap(try plans.constant.run(feeds)["y"]).floatArray()
            assertClose(constant, expected, tolerance: 1e-5, "\(w) group \(group), constant filters")
            let runtime = try XCTUnwrap(try plans.runtime.run(feeds.merging(["w": Tensor(shape: w, floats: weights)]) { a, _ in a })["y"])
            assertClose(runtime.floatArray(), expected, tolerance: 1e-5, "\(w) group \(group), filters at run time")
        }
    }

    func testFusedActivationsMatchTheirDefinitions() {
        var random = TestRandom(seed: 43)
        let x = random.floats(203).map { $0 * 8 } + [.nan]
        let definitions: [(Activation, (Float) -> Float)] = [
            (.relu, { max(0, $0) }),
            (.leakyRelu(alpha: 0.1), { $0 >= 0 ? $0 : 0.1 * $0 }),
            (.clip(min: -1, max: 6), { min(6, max(-1, $0)) }),
            (.hardSigmoid(alpha: 0.2, beta: 0.5), { min(1, max(0, 0.2 * $0 + 0.5)) }),
            (.hardSwish, { $0 * min(1, max(0, $0 / 6 + 0.5)) }),
            (.silu, { $0 / (1 + exp(-$0)) }),
            (.gelu, { $0 / 2 * (1 + erf($0 / Float(2).squareRoot())) }),
        ]
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (activation, definition) in definitions {
                var values = x
                values.withUnsafeMutableBufferPointer { activation.apply($0) }
                assertClose(Array(values.dropLast()), x.dropLast().map(definition), tolerance: 1e-5, "\(activation) portable \(portable)")
                XCTAssertTrue(values.last!.isNaN, "\(activation) keeps NaN (portable \(portable))")
            }
        }
    }
}
