import CKernels
import ONNXProto
import XCTest
@testable import Engine

/// A 2-d convolution's geometry for the kernel tests, and its output by a double-precision loop.
struct ConvCase {
    var batch = 1, channels = 8, height = 9, width = 9, outChannels = 16
    var kernelH = 3, kernelW = 3, strideH = 1, strideW = 1, dilationH = 1, dilationW = 1
    var padTop = 1, padLeft = 1, padBottom = 1, padRight = 1
    var outH: Int { (height + padTop + padBottom - ((kernelH - 1) * dilationH + 1)) / strideH + 1 }
    var outW: Int { (width + padLeft + padRight - ((kernelW - 1) * dilationW + 1)) / strideW + 1 }
    var taps: Int { channels * kernelH * kernelW }
    var shape: ds_conv2d_shape {
        ds_conv2d_shape(channels: channels, height: height, width: width, kernel_h: kernelH, kernel_w: kernelW,
                        stride_h: strideH, stride_w: strideW, pad_top: padTop, pad_left: padLeft,
                        dilation_h: dilationH, dilation_w: dilationW, out_h: outH, out_w: outW)
    }

    /// The output before any activation: bias + Σ w · x (+ the residual), summed in Double.
    func reference(_ x: [Float], _ w: [Float], _ bias: [Float], residual: [Float]?) -> [Float] {
        var out = [Float]()
        for n in 0..<batch {
            for oc in 0..<outChannels {
                for oy in 0..<outH {
                    for ox in 0..<outW {
                        var sum = Double(bias[oc])
                        for ic in 0..<channels {
                            for i in 0..<kernelH {
                                for j in 0..<kernelW {
                                    let iy = oy * strideH - padTop + i * dilationH
                                    let ix = ox * strideW - padLeft + j * dilationW
                                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                    sum += Double(x[((n * channels + ic) * height + iy) * width + ix])
                                        * Double(w[((oc * channels + ic) * kernelH + i) * kernelW + j])
                                }
                            }
                        }
                        if let residual { sum += Double(residual[out.count]) }
                        out.append(Float(sum))
                    }
                }
            }
        }
        return out
    }

    /// A kernel with ds_conv2d_direct's contract (ds_winograd_conv2d has the same).
    typealias Kernel = (UnsafePointer<ds_conv2d_shape>?, Int, UnsafePointer<Float>?, Int, UnsafePointer<Float>?, Int,
                        UnsafePointer<Float>?, Int32, ds_activation, UnsafeMutablePointer<Float>?, Int,
                        UnsafeMutablePointer<Float>?) -> Void

    /// `kernel` on this geometry: the filters packed by `pack` into `packedFloats` floats, 64-byte aligned (the kernels'
    /// loads need it), `scratchFloats` of scratch, onto `residual` when there is one.
    func run(_ kernel: Kernel, x: [Float], bias: [Float], residual: [Float]?, activation: ds_activation, packedFloats: Int,
             pack: (UnsafeMutablePointer<Float>) -> Void, scratchFloats: Int) -> [Float] {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: packedFloats * MemoryLayout<Float>.size, alignment: 64)
        defer { raw.deallocate() }
        let packed = raw.bindMemory(to: Float.self, capacity: packedFloats)
        pack(packed)
        var shape = self.shape
        var scratch = [Float](repeating: .nan, count: scratchFloats)
        var y = residual ?? [Float](repeating: .nan, count: batch * outChannels * outH * outW)
        kernel(&shape, batch, x, channels * height * width, packed, outChannels, bias, residual == nil ? 0 : 1, activation,
               &y, outChannels * outH * outW, &scratch)
        return y
    }

    /// Random images, filters and bias for this geometry, convolved by `convolve` (x, w, bias, residual, activation)
    /// with no activation, a ReLU, a Clip and a Sigmoid (the odd ones onto a residual), each against `reference`.
    func check(_ random: inout TestRandom, tolerance: Float, _ label: String,
               _ convolve: ([Float], [Float], [Float], [Float]?, ds_activation) -> [Float]) {
        let activations = [ds_activation(kind: DS_ACTIVATION_NONE, alpha: 0, beta: 0),
                           ds_activation(kind: DS_ACTIVATION_RELU, alpha: 0, beta: 0),
                           ds_activation(kind: DS_ACTIVATION_CLIP, alpha: -0.5, beta: 0.5),
                           ds_activation(kind: DS_ACTIVATION_SIGMOID, alpha: 0, beta: 0)]
        let x = random.floats(batch * channels * height * width)
        let w = random.floats(outChannels * taps), bias = random.floats(outChannels)
        for (a, activation) in activations.enumerated() {
            let residual: [Float]? = a % 2 == 1 ? random.floats(batch * outChannels * outH * outW) : nil
            var expected = reference(x, w, bias, residual: residual)
            ds_activation_apply(&expected, expected.count, activation)
            assertClose(convolve(x, w, bias, residual, activation), expected, tolerance: tolerance, "\(label), activation \(a)")
        }
    }
}

/// A Conv (bias, `attributes`) followed by Add of input "r" and Relu, into "y": twice, with the filters as a constant
/// (so the Conv may take a kernel chosen at load) and as input "w" (so it runs the im2col GEMM), to compare the two.
func convAddReluPlans(x: [Int], weightShape: [Int], weights: [Float], bias: [Float], output: [Int],
                      attributes: [Onnx_AttributeProto]) throws -> (constant: Plan, runtime: Plan) {
    func model(constantWeights: Bool) throws -> Plan {
        var model = ModelBuilder()
        model.input("x", x.map { .fixed($0) })
        model.input("r", output.map { .fixed($0) })
        if !constantWeights { model.input("w", weightShape.map { .fixed($0) }) }
        model.output("y", output.map { .fixed($0) })
        if constantWeights { model.initializer("w", weightShape, floats: weights) }
        model.initializer("b", [bias.count], floats: bias)
        model.node("Conv", ["x", "w", "b"], ["c"], attributes: attributes)
        model.node("Add", ["c", "r"], ["s"])
        model.node("Relu", ["s"], ["y"])
        return try model.plan()
    }
    return (try model(constantWeights: true), try model(constantWeights: false))
}

/// The direct convolution (CKernels/direct_conv.c) against a double-precision loop, and the Conv operator's choice of
/// it: strides, dilations, uneven and oversized padding, channel counts that leave a panel partly empty, tiles that
/// straddle images, a residual, piecewise and other activations, on the AVX2 and portable paths.
final class DirectConvTests: XCTestCase {
    override func tearDown() { ds_force_portable(0) }

    private typealias Case = ConvCase

    private func convolve(_ x: [Float], _ w: [Float], _ bias: [Float], residual: [Float]?, activation: ds_activation,
                          _ c: Case) -> [Float] {
        var shape = c.shape
        return c.run(ds_conv2d_direct, x: x, bias: bias, residual: residual, activation: activation,
                     packedFloats: ds_conv2d_direct_packed_size(c.outChannels, c.taps),
                     pack: { ds_conv2d_direct_pack(w, c.outChannels, c.taps, $0) },
                     scratchFloats: ds_conv2d_direct_scratch_size(&shape, c.batch))
    }

    func testMatchesTheDirectLoop() {
        var random = TestRandom(seed: 61)
        var cases = [Case]()
        cases.append(Case())                                                                // in one block, pads all round
        cases.append(Case(height: 14, width: 14, outChannels: 35, kernelH: 5, kernelW: 5, padTop: 2, padLeft: 2,
                          padBottom: 2, padRight: 2))                                       // 3 panels, the last 3 wide
        cases.append(Case(batch: 3, channels: 4, height: 3, width: 4, outChannels: 20))      // 12 pixels an image: tiles straddle images
        cases.append(Case(height: 17, width: 12, strideH: 2, strideW: 3, padTop: 0, padLeft: 1, padBottom: 1, padRight: 0))
        cases.append(Case(height: 11, width: 13, dilationH: 2, dilationW: 3, padTop: 2, padLeft: 3, padBottom: 2, padRight: 3))
        cases.append(Case(channels: 3, height: 20, width: 20, kernelH: 7, kernelW: 7, strideH: 2, strideW: 2,
                          padTop: 3, padLeft: 3, padBottom: 3, padRight: 3))                // a ResNet stem
        cases.append(Case(batch: 2, height: 8, width: 10, kernelH: 3, kernelW: 1, padTop: 0, padLeft: 0,
                          padBottom: 0, padRight: 0))                                       // nothing padded: read in place
        cases.append(Case(height: 2, width: 3, outChannels: 8, padTop: 4, padLeft: 4, padBottom: 4, padRight: 4))   // more pad than image
        cases.append(Case(batch: 2, height: 9, width: 9, kernelH: 4, kernelW: 4, strideH: 2, strideW: 2,
                          padTop: 0, padLeft: 0, padBottom: 0, padRight: 0))               // windows never read the last row/column
        cases.append(Case(batch: 40, channels: 2, height: 2, width: 2, outChannels: 17))    // a pass can't hold every image
        cases.append(Case(batch: 2, channels: 40, height: 9, width: 8, kernelH: 1, kernelW: 1, strideH: 2, strideW: 2,
                          padTop: 0, padLeft: 0, padBottom: 0, padRight: 0))               // ResNet's 1×1 downsampling
        // A few input channels and rows of 8 pixels or more: a row of pixels per tile (direct_conv_rows.c), with rows
        // of 16 + 3, 16 + 8 + 2 and 8 + 1 pixels, output channels that leave a block of four partly empty, dilation.
        cases.append(Case(batch: 2, channels: 3, height: 15, width: 37, outChannels: 35, strideH: 2, strideW: 2))
        cases.append(Case(channels: 1, height: 7, width: 30, outChannels: 6, kernelH: 5, kernelW: 5,
                          padTop: 2, padLeft: 0, padBottom: 2, padRight: 0))
        cases.append(Case(channels: 4, height: 6, width: 13, outChannels: 9, dilationH: 2, dilationW: 2,
                          padTop: 2, padLeft: 2, padBottom: 2, padRight: 2))
        // Rests of more than 8 pixels run as one 16-wide tile, partly stored: 16 + 12 (a digit network's 5×5 stem),
        // 9 alone, 16 + 4 with a 7×7 filter at stride 2.
        cases.append(Case(batch: 2, channels: 1, height: 6, width: 28, outChannels: 32, kernelH: 5, kernelW: 5,
                          padTop: 2, padLeft: 2, padBottom: 2, padRight: 2))
        cases.append(Case(channels: 2, height: 5, width: 9, outChannels: 5))
        cases.append(Case(channels: 3, height: 9, width: 40, outChannels: 8, kernelH: 7, kernelW: 7, strideH: 2, strideW: 2,
                          padTop: 3, padLeft: 3, padBottom: 3, padRight: 3))
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (index, c) in cases.enumerated() {
                c.check(&random, tolerance: 1e-5, "case \(index), portable \(portable)") { x, w, bias, residual, activation in
                    convolve(x, w, bias, residual: residual, activation: activation, c)
                }
            }
        }
    }

    /// With enough taps a Conv with constant filters runs the direct kernel; the same Conv with its filters given at
    /// run time takes the im2col GEMM. Both agree, with groups, a residual Add folded in, and several images.
    func testConvOperatorPicksTheDirectKernelAndAgreesWithTheGEMM() throws {
        // 2 groups of 2 channels: a 3×3 kernel has 18 taps (the GEMM's), a 4×4 one 32 (the direct kernel's).
        let x = [3, 4, 6, 7], w = [12, 2, 3, 3]
        let weightShape = [w[0], w[1], 4, 4]
        XCTAssertTrue(DirectConvFilters.suits(weightShape, group: 2))
        XCTAssertFalse(DirectConvFilters.suits(w, group: 2), "18 taps stay on the GEMM")
        XCTAssertFalse(DirectConvFilters.suits([16, 1, 3, 3], group: 16), "depthwise has its own kernel")
        XCTAssertFalse(DirectConvFilters.suits([16, 256, 1, 1], group: 1), "1×1 goes to the GEMM, with a stride or without")
        var random = TestRandom(seed: 62)
        let weights = random.floats(weightShape.reduce(1, *)), bias = random.floats(12)
        let output = [3, 12, 5, 5]   // pads top 1, left 1, bottom 1, right 0: (6 + 2 − 4) + 1 rows, (7 + 1 − 4) + 1 columns
        let (direct, gemm) = try convAddReluPlans(x: x, weightShape: weightShape, weights: weights, bias: bias, output: output,
                                                  attributes: [ModelBuilder.int("group", 2), ModelBuilder.ints("pads", [1, 1, 1, 0])])
        XCTAssertEqual(direct.stepOpTypes, ["Conv+Add+Relu"])
        let conv = try XCTUnwrap(direct.steps.first?.op as? Conv)
        XCTAssertNotNil(conv.directFilters)
        XCTAssertNil(conv.filters)
        let input = Tensor(shape: x, floats: random.floats(x.reduce(1, *)))
        let residual = Tensor(shape: output, floats: random.floats(output.reduce(1, *)))
        let a = try XCTUnwrap(try direct.run(["x": input, "r": residual])["y"]).floatArray()
        let b = try XCTUnwrap(try gemm.run(["x": input, "r": residual, "w": Tensor(shape: weightShape, floats: weights)])["y"])
            .floatArray()
        XCTAssertEqual(a.count, output.reduce(1, *))
        XCTAssertTrue(a.contains { $0 > 0 } && a.contains { $0 == 0 }, "the ReLU clips some outputs and not others")
        assertClose(a, b, tolerance: 1e-5)
    }

    /// A ConvTranspose with constant filters runs as one direct convolution per output phase; the same node with its
    /// filters given at run time takes the GEMM and col2im. Both agree for strides 1–3 (uneven too), kernels smaller
    /// than the stride (phases with no tap: the bias alone), pads, output_padding, a fused ReLU or Sigmoid, and a
    /// leading pad too large for the phases (which falls back to the GEMM at run time).
    func testConvTransposeByPhasesMatchesTheGEMMPath() throws {
        struct Case { var kernel: [Int], strides: [Int], pads: [Int], outputPadding: [Int] = [0, 0], activation = "Relu" }
        let cases = [
            Case(kernel: [4, 4], strides: [2, 2], pads: [1, 1, 1, 1]),                              // the GAN's upsampling
            Case(kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1], activation: "Sigmoid"),
            Case(kernel: [3, 5], strides: [3, 2], pads: [0, 2, 1, 0]),
            Case(kernel: [1, 1], strides: [2, 2], pads: [0, 0, 0, 0]),                              // three phases without taps
            Case(kernel: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1]),
            Case(kernel: [3, 3], strides: [2, 2], pads: [3, 3, 0, 0]),                              // negative phase pads: GEMM
        ]
        let (batch, inChannels, outChannels, height, width) = (2, 32, 9, 5, 6)
        var random = TestRandom(seed: 63)
        for c in cases {
            let weightShape = [inChannels, outChannels] + c.kernel
            let weights = random.floats(weightShape.reduce(1, *)), bias = random.floats(outChannels)
            let outH = c.strides[0] * (height - 1) + c.outputPadding[0] + c.kernel[0] - c.pads[0] - c.pads[2]
            let outW = c.strides[1] * (width - 1) + c.outputPadding[1] + c.kernel[1] - c.pads[1] - c.pads[3]
            let output = [batch, outChannels, outH, outW]
            func plan(constantWeights: Bool) throws -> Plan {
                var model = ModelBuilder()
                model.input("x", [batch, inChannels, height, width].map { .fixed($0) })
                if !constantWeights { model.input("w", weightShape.map { .fixed($0) }) }
                model.output("y", output.map { .fixed($0) })
                if constantWeights { model.initializer("w", weightShape, floats: weights) }
                model.initializer("b", [outChannels], floats: bias)
                model.node("ConvTranspose", ["x", "w", "b"], ["c"], attributes: [
                    ModelBuilder.ints("strides", c.strides), ModelBuilder.ints("pads", c.pads),
                    ModelBuilder.ints("output_padding", c.outputPadding)])
                model.node(c.activation, ["c"], ["y"])
                return try model.plan()
            }
            let phased = try plan(constantWeights: true), gemm = try plan(constantWeights: false)
            XCTAssertNotNil((phased.steps.first?.op as? ConvTranspose)?.phases, "\(c)")
            XCTAssertNil((gemm.steps.first?.op as? ConvTranspose)?.phases)
            let input = Tensor(shape: [batch, inChannels, height, width], floats: random.floats(batch * inChannels * height * width))
            let a = try XCTUnwrap(try phased.run(["x": input])["y"]).floatArray()
            let b = try XCTUnwrap(try gemm.run(["x": input, "w": Tensor(shape: weightShape, floats: weights)])["y"]).floatArray()
            XCTAssertEqual(a.count, output.reduce(1, *), "\(c)")
            XCTAssertFalse(a.contains { $0.isNaN }, "every output written: \(c)")
            assertClose(a, b, tolerance: 1e-5, "\(c)")
        }
    }
}
