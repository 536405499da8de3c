import CKernels
import XCTest
@testable import Engine

/// Winograd F(2×2, 3×3) and F(2×2, 5×5) (CKernels/winograd.c) against a double-precision loop, and the Conv
/// operator's choice of them: odd output sizes (a last row or column of half-used tiles), tile rows that end mid-group,
/// narrow maps whose groups span two tile rows (an odd number of them too), uneven pads, several blocks of tile rows,
/// several images, a residual, piecewise and smooth activations.
final class WinogradConvTests: XCTestCase {
    /// DirectConvTests' geometry: its defaults are a 3×3 window at stride 1 with pads of 1, and every case here keeps
    /// the window and the stride.
    private typealias Case = ConvCase

    private func convolve(_ x: [Float], _ w: [Float], _ bias: [Float], residual: [Float]?, activation: ds_activation,
                          _ c: Case) -> [Float] {
        var shape = c.shape
        return c.run(ds_winograd_conv2d, x: x, bias: bias, residual: residual, activation: activation,
                     packedFloats: ds_winograd_packed_size(c.outChannels, c.channels, c.kernelH),
                     pack: { ds_winograd_pack(w, c.outChannels, c.channels, c.kernelH, $0) },
                     scratchFloats: ds_winograd_scratch_size(&shape, c.outChannels))
    }

    func testMatchesTheDirectLoop() {
        var shape = Case().shape
        guard ds_winograd_suits(&shape) != 0 else {
            // Winograd is an AVX2 kernel: on the portable kernels (the CI's second engine run) Conv never offers it.
            XCTAssertEqual(String(cString: ds_kernel_isa()), "portable")
            return
        }
        var random = TestRandom(seed: 71)
        let cases = [
            Case(),                                                                           // one group of 8 tiles, half used
            Case(batch: 2, channels: 5, height: 15, width: 13, outChannels: 7),              // odd sizes: half tiles at the edges
            Case(channels: 3, height: 12, width: 37, outChannels: 19, padTop: 0, padLeft: 2, padBottom: 1, padRight: 0),
            Case(channels: 33, height: 40, width: 40, outChannels: 40),                     // several blocks of tile rows
            Case(height: 6, width: 6, outChannels: 4, padTop: 0, padLeft: 0, padBottom: 0, padRight: 0),   // nothing padded
            Case(batch: 2, channels: 9, height: 7, width: 7, outChannels: 12),              // 4 tiles a row: two rows a group
            Case(channels: 4, height: 5, width: 8, outChannels: 5, padTop: 1, padLeft: 1, padBottom: 0, padRight: 0),
            Case(channels: 2, height: 2, width: 3, outChannels: 3, padTop: 2, padLeft: 2, padBottom: 2, padRight: 2),
        ]
        // The same geometries for 5×5 filters (pads of 2 where 3×3 had 1; 24×24 for 40×40, still three blocks of tile
        // rows, at half the reference loop's time), and the MNIST CNN's 32 → 64 at 14×14.
        let fiveByFive = cases.map { c in
            var c = c
            (c.kernelH, c.kernelW) = (5, 5)
            if c.height == 40 { (c.height, c.width) = (24, 24) }
            (c.padTop, c.padLeft, c.padBottom, c.padRight) = (c.padTop * 2, c.padLeft * 2, c.padBottom * 2, c.padRight * 2)
            return c
        } + [Case(channels: 32, height: 14, width: 14, outChannels: 64, kernelH: 5, kernelW: 5,
                  padTop: 2, padLeft: 2, padBottom: 2, padRight: 2)]
        for (index, c) in (cases + fiveByFive).enumerated() {
            // The transforms round differently from a direct sum: a few ulp of each product, not more. F(2×2, 5×5)'s
            // factors up to 5 and 1/24 cost more, and its rounding scales with the products summed, not with their
            // sum: with 800 products of values in ±1 (outputs spread over about ±10) it reached 8.4e-5 absolute, under
            // 1e-5 of that spread; a wrong transform is off by whole units.
            c.check(&random, tolerance: c.kernelH == 3 ? 2e-5 : 2e-4, "case \(index), \(c.kernelH)×\(c.kernelW)") {
                x, w, bias, residual, activation in
                convolve(x, w, bias, residual: residual, activation: activation, c)
            }
        }
    }

    /// The half-rate FMA probe (CPUID) names the same CPUs as Linux's own reading of the vendor, family and model in
    /// /proc/cpuinfo: AMD family 23 below model 48 (Zen, Zen+), Hygon family 24.
    func testHalfRateFMAProbeAgreesWithProcCpuinfo() throws {
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        func field(_ name: String) throws -> String {
            let line = try XCTUnwrap(info.split(separator: "\n").first { $0.hasPrefix(name) && $0.contains(":") },
                                     "\(name) in /proc/cpuinfo")
            return line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        }
        let vendor = try field("vendor_id")
        let family = try XCTUnwrap(Int(try field("cpu family"))), model = try XCTUnwrap(Int(try field("model\t")))
        let halved = (vendor == "AuthenticAMD" && family == 23 && model < 48) || (vendor == "HygonGenuine" && family == 24)
        XCTAssertEqual(ds_cpu_splits_256bit_fma() != 0, halved, "\(vendor) family \(family) model \(model)")
    }

    /// A Conv with constant 3×3 filters at stride 1 and enough channels holds Winograd filters and runs them on a map
    /// large enough, the direct kernel on a small one; both agree with the im2col GEMM that the same node takes when
    /// its filters come at run time, with a residual Add folded in.
    func testConvOperatorRunsWinogradOnLargeMapsAndAgreesWithTheGEMM() throws {
        XCTAssertTrue(WinogradFilters.suits([64, 32, 3, 3], group: 1, strides: nil, dilations: nil))
        XCTAssertFalse(WinogradFilters.suits([64, 32, 3, 3], group: 1, strides: [2, 2], dilations: nil), "stride 2")
        XCTAssertFalse(WinogradFilters.suits([64, 32, 3, 3], group: 1, strides: nil, dilations: [2, 2]), "dilated")
        XCTAssertFalse(WinogradFilters.suits([64, 32, 3, 3], group: 2, strides: nil, dilations: nil), "grouped")
        XCTAssertTrue(WinogradFilters.suits([64, 32, 5, 5], group: 1, strides: nil, dilations: nil), "5×5")
        XCTAssertFalse(WinogradFilters.suits([64, 32, 7, 7], group: 1, strides: nil, dilations: nil), "7×7")
        XCTAssertFalse(WinogradFilters.suits([64, 32, 3, 5], group: 1, strides: nil, dilations: nil), "3×5")
        XCTAssertFalse(WinogradFilters.suits([16, 128, 3, 3], group: 1, strides: nil, dilations: nil), "too few outputs")
        XCTAssertEqual(WinogradFilters.suits([32, 128, 3, 3], group: 1, strides: nil, dilations: nil),
                       String(cString: ds_kernel_isa()) == "avx512f" || ds_cpu_splits_256bit_fma() != 0,
                       "DenseNet's 128 → 32: only with AVX-512 transforms or half-rate FMAs")
        XCTAssertFalse(WinogradFilters.suits([64, 16, 3, 3], group: 1, strides: nil, dilations: nil), "too few inputs")
        XCTAssertTrue(WinogradFilters.suits([512, 512, 3, 3], group: 1, strides: nil, dilations: nil), "ResNet's widest")
        XCTAssertFalse(WinogradFilters.suits([1024, 512, 3, 3], group: 1, strides: nil, dilations: nil), "16 MiB of filters")
        XCTAssertTrue(WinogradFilters.suits([256, 256, 5, 5], group: 1, strides: nil, dilations: nil))
        XCTAssertFalse(WinogradFilters.suits([512, 512, 5, 5], group: 1, strides: nil, dilations: nil), "36 MiB of filters")
        var random = TestRandom(seed: 72)
        // 3×3: 17×17 Winograd; 7×7 Winograd, two tile rows a group; 5×5 the direct kernel. 5×5 filters: 16×16 and
        // 14×14 Winograd (8 of 8 and 7 of 8 lanes used); 12×12 the direct kernel (6 of 8).
        for (kernel, size) in [(3, 17), (3, 7), (3, 5), (5, 16), (5, 14), (5, 12)] {
            let weightShape = [64, 32, kernel, kernel], pad = kernel / 2
            let weights = random.floats(weightShape.reduce(1, *)), bias = random.floats(64)
            let x = [2, 32, size, size], output = [2, 64, size, size]
            let (transformed, gemm) = try convAddReluPlans(x: x, weightShape: weightShape, weights: weights, bias: bias,
                                                           output: output,
                                                           attributes: [ModelBuilder.ints("pads", [pad, pad, pad, pad])])
            let conv = try XCTUnwrap(transformed.steps.first?.op as? Conv)
            let winograd = try XCTUnwrap(conv.winogradFilters)
            XCTAssertNotNil(conv.directFilters, "kept for the maps too small for Winograd")
            let geometry = ds_conv2d_shape(channels: 32, height: size, width: size, kernel_h: kernel, kernel_w: kernel,
                                           stride_h: 1, stride_w: 1, pad_top: pad, pad_left: pad, dilation_h: 1,
                                           dilation_w: 1, out_h: size, out_w: size)
            XCTAssertEqual(winograd.suits(geometry), size >= (kernel == 3 ? 7 : 14) && String(cString: ds_kernel_isa()) != "portable",
                           "\(kernel)×\(kernel) filters on \(size)×\(size)")
            let input = Tensor(shape: x, floats: random.floats(x.reduce(1, *)))
            let residual = Tensor(shape: output, floats: random.floats(output.reduce(1, *)))
            let a = try XCTUnwrap(try transformed.run(["x": input, "r": residual])["y"]).floatArray()
            let b = try XCTUnwrap(try gemm.run(["x": input, "r": residual, "w": Tensor(shape: weightShape, floats: weights)])["y"])
                .floatArray()
            XCTAssertTrue(a.contains { $0 > 0 } && a.contains { $0 == 0 }, "the ReLU clips some outputs and not others")
            assertClose(a, b, tolerance: kernel == 3 ? 2e-5 : 2e-4, "\(kernel)×\(kernel) filters on \(size)×\(size)")
        }
    }
}
