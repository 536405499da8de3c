import CKernels

/// Conv (any number of spatial dimensions, any groups, strides, dilations, pads and auto_pad) in NCHW.
///
/// Strategy by shape: pointwise convolutions are a GEMM straight on the input; those whose every filter reads one
/// input channel (depthwise, with or without a channel multiplier, and any filter bank over a one-channel image) run a
/// direct per-plane kernel; constant filters with enough taps per output (`DirectConvFilters.suits`,
/// chosen at load) run the direct kernel that reads the image in place; everything else unfolds
/// the input (im2col) and runs the packed GEMM. Bias and activation are fused into every store.
///
/// As `Conv+Add` (GraphRewriter's fuseResidualAdd) it takes a fourth input, a residual added before the activation:
/// copied into the output first and accumulated onto by the GEMM (beta 1) when it has the output's shape.
struct Conv: ActivationFusing {
    let window: SpatialWindow
    let group: Int
    var activation: Activation?
    /// The filters packed for the GEMM when they are a constant (W [Cout, Cin/g, k…]: group g's
    /// rows are its Cout/g filters).
    let filters: PackedFilters?
    /// The filters packed for the direct kernel instead, when they suit it (then `filters` is nil).
    let directFilters: DirectConvFilters?
    /// 3×3 filters at stride 1 also transformed for Winograd F(2×2, 3×3), which runs the maps large enough for it
    /// (`WinogradFilters.suits`); smaller ones of the same layer run the direct kernel.
    let winogradFilters: WinogradFilters?
    /// Input 3 is a residual to add before the activation.
    let addsResidual: Bool

    init(_ context: NodeContext, addsResidual: Bool = false) throws {
        self.addsResidual = addsResidual
        window = try SpatialWindow(context, requireKernel: false)
        let weight = context.constantInputs.count > 1 ? context.constantInputs[1] : nil
        let group = try PackedFilters.group(context)
        if let weight, weight.dataType == .float, DirectConvFilters.suits(weight.shape, group: group) {
            self.group = group
            directFilters = DirectConvFilters(weight, group: group)
            winogradFilters = WinogradFilters.suits(weight.shape, group: group, strides: window.strides, dilations: window.dilations)
                ? WinogradFilters(weight) : nil
            filters = nil
            return
        }
        directFilters = nil
        winogradFilters = nil
        let kernelSize = weight.map { $0.shape.dropFirst().reduce(1, *) } ?? 0
        (self.group, filters) = try PackedFilters.load(context) { source, slice in
            PackedMatrix(left: source, rows: slice / max(kernelSize, 1), columns: kernelSize, stride: kernelSize)
        }
    }

    func fused(with activation: Activation) -> any Operator {
        var copy = self
        copy.activation = activation
        return copy
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        guard addsResidual else { return try convolve(inputs, residual: nil, workspace) }
        let residual = try inputs.required(3)
        if residual.dataType == .float, let shape = try outputShape(inputs), residual.shape == shape {
            return try convolve(inputs, residual: residual, workspace)
        }
        // Another shape (the Add broadcasts) or a kind the GEMM can't accumulate onto: the Add, then the activation.
        var plain = self
        plain.activation = nil
        let sum = try BinaryArithmetic.apply(.add, try plain.convolve(inputs, residual: nil, workspace)[0], residual, workspace)
        if let activation {
            guard sum.dataType == .float else { throw KernelError("a fused activation needs a float sum, got \(sum.dataType)") }
            activation.apply(sum.floats)
        }
        return [sum]
    }

    /// The output's shape when the GEMM paths can add a residual in their store (2-d or 1-d, not depthwise); nil
    /// otherwise. Throws what the convolution itself would throw on bad shapes.
    private func outputShape(_ inputs: [Tensor?]) throws -> [Int]? {
        let x = try inputs.required(0), w = try inputs.required(1)
        guard x.rank == 3 || x.rank == 4, x.rank == w.rank, w.shape[1] * group == x.shape[1] else { return nil }
        let spatial = Array(x.shape.dropFirst(2))
        let g = try window.resolve(input: spatial, kernel: Array(w.shape.dropFirst(2)))
        let pointwise = g.kernel.allSatisfy { $0 == 1 } && g.strides.allSatisfy { $0 == 1 }
            && g.padBegin.allSatisfy { $0 == 0 } && g.padEnd.allSatisfy { $0 == 0 }
        let onePlanePerFilter = w.shape[1] == 1 && !pointwise   // the depthwise kernel's: no residual in its store
        return onePlanePerFilter ? nil : [x.shape[0], w.shape[0]] + g.output
    }

    /// The convolution, accumulated onto `residual` (of the output's shape) when there is one.
    private func convolve(_ inputs: [Tensor?], residual: Tensor?, _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), w = try inputs.required(1)
        let bias = inputs.optional(2)
        try x.expect(.float, role: "X")
        try w.expect(.float, role: "W")
        guard x.rank >= 3, x.rank == w.rank else {
            throw KernelError("X \(x.shape) and W \(w.shape) must both be N × C × spatial… of the same rank")
        }
        if x.rank > 4 {
            precondition(residual == nil, "outputShape offers no residual to the N-d path")
            return [try unfolded(x, w, bias, workspace)]
        }
        // A 1-d convolution is a 2-d one with height 1.
        let x4 = x.rank == 3 ? [x.shape[0], x.shape[1], 1, x.shape[2]] : x.shape
        let w4 = w.rank == 3 ? [w.shape[0], w.shape[1], 1, w.shape[2]] : w.shape
        let (batch, channels, height, width) = (x4[0], x4[1], x4[2], x4[3])
        let outChannels = w4[0]
        guard channels % group == 0, channels / group == w4[1], outChannels % group == 0 else {   // no product: it could overflow
            throw KernelError("X has \(channels) channels but W \(w.shape) with group \(group) expects \(w4[1] * group)")
        }
        if let bias {
            try bias.expect(.float, role: "B")
            guard bias.count == outChannels else { throw KernelError("B has \(bias.count) values for \(outChannels) output channels") }
        }
        let spatial = x.rank == 3 ? [width] : [height, width]
        let kernelShape = Array(w.shape.dropFirst(2))
        var g = try window.resolve(input: spatial, kernel: kernelShape)
        if x.rank == 3 {
            g = SpatialWindow.Resolved(kernel: [1] + g.kernel, strides: [1] + g.strides, dilations: [1] + g.dilations,
                                       padBegin: [0] + g.padBegin, padEnd: [0] + g.padEnd, output: [1] + g.output)
        }
        let (outH, outW) = (g.output[0], g.output[1])
        let outShape = x.rank == 3 ? [batch, outChannels, outW] : [batch, outChannels, outH, outW]
        let out = try workspace.allocate(.float, outShape)
        if out.count == 0 { return [out] }   // batch 0 or no output channels
        // A residual is the output's starting value; every kernel below adds onto it (beta 1). The GEMM paths copy it
        // an image at a time, just before that image's products: copied whole, a batch of 32 ResNet-50 maps (51 MB)
        // went to memory before the first product read it back.
        let residualFloats = residual?.pointer(as: Float.self)
        let beta: Float = residual == nil ? 0 : 1

        let cinPerGroup = channels / group, coutPerGroup = outChannels / group
        let kernelSize = cinPerGroup * g.kernel[0] * g.kernel[1]
        let pixels = outH * outW
        let px = x.pointer(as: Float.self), pw = w.pointer(as: Float.self), py = out.pointer(as: Float.self)
        let pb = bias?.pointer(as: Float.self)
        let act = activation?.kernelDescriptor ?? Activation.none

        let imageSize = channels * height * width, outputSize = outChannels * pixels
        func startFromResidual(image n: Int) {
            if let residualFloats { (py + n * outputSize).update(from: residualFloats + n * outputSize, count: outputSize) }
        }

        let pointwise = g.kernel == [1, 1] && g.strides == [1, 1] && g.padBegin == [0, 0] && g.padEnd == [0, 0]
        if cinPerGroup == 1 && !pointwise {
            precondition(residual == nil, "outputShape offers no residual to the depthwise kernel")
            try depthwise(px, pw, pb, py, batch: batch, channels: channels, filtersPerChannel: coutPerGroup, height: height,
                          width: width, g, workspace)
            return [out]
        }
        if let direct = directFilters, direct.shape == w.shape {
            for n in 0..<batch { startFromResidual(image: n) }   // these kernels take the whole batch at once
            // The padded copy the kernel may make, checked here: its C size arithmetic is not.
            let rows = try checkedSpan(outH, g.strides[0], g.kernel[0], g.dilations[0])
            let columns = try checkedSpan(outW, g.strides[1], g.kernel[1], g.dilations[1])
            _ = try checkedElementCount([cinPerGroup, rows, columns])
            _ = try checkedElementCount([kernelSize, 2])
            let shape = ds_conv2d_shape(channels: cinPerGroup, height: height, width: width, kernel_h: g.kernel[0],
                                        kernel_w: g.kernel[1], stride_h: g.strides[0], stride_w: g.strides[1],
                                        pad_top: g.padBegin[0], pad_left: g.padBegin[1], dilation_h: g.dilations[0],
                                        dilation_w: g.dilations[1], out_h: outH, out_w: outW)
            if let winograd = winogradFilters, winograd.shape == w.shape, winograd.suits(shape) {
                // ds_winograd_scratch_size's arithmetic, bounded: padded planes of at most (outH + 7) × (outW + 23)
                // and 36 positions of V and M over fewer tiles than that.
                _ = try checkedElementCount([cinPerGroup + outChannels, outH + 8, outW + 24, 37])
                try winograd.convolve(px, batch: batch, shape: shape, bias: pb, accumulate: residual != nil, activation: act,
                                      into: py, workspace)
                return [out]
            }
            try direct.convolve(px, batch: batch, shape: shape, bias: pb, accumulate: residual != nil, activation: act,
                                into: py, workspace)
            return [out]
        }
        let packed = filters?.matching(w)
        func multiply(group gi: Int, columns: UnsafePointer<Float>, n: Int, ldb: Int, into target: UnsafeMutablePointer<Float>, ldc: Int) {
            let groupBias = pb.map { UnsafePointer($0 + gi * coutPerGroup) }
            if let packed {
                packed[gi].multiply(columns, n: n, ldb: ldb, into: target, ldc: ldc, beta: beta, rowBias: groupBias, activation: act)
            } else {
                ds_sgemm(0, 0, coutPerGroup, n, kernelSize, 1, pw + gi * coutPerGroup * kernelSize, kernelSize,
                         columns, ldb, beta, target, ldc, groupBias, nil, act)
            }
        }
        func unfold(_ image: UnsafePointer<Float>, rows: Range<Int>, into columns: UnsafeMutablePointer<Float>, ld: Int) {
            ds_im2col(image, cinPerGroup, height, width, g.kernel[0], g.kernel[1], g.padBegin[0], g.padBegin[1],
                      g.strides[0], g.strides[1], g.dilations[0], g.dilations[1], rows.lowerBound, rows.count, outW, columns, ld)
        }

        if pointwise {
            for n in 0..<batch {
                startFromResidual(image: n)
                for gi in 0..<group {
                    multiply(group: gi, columns: px + n * imageSize + gi * cinPerGroup * pixels, n: pixels, ldb: pixels,
                             into: py + n * outputSize + gi * coutPerGroup * pixels, ldc: pixels)
                }
            }
            return [out]
        }

        // Side by side only when a map is small: beyond a few hundred pixels an image fills the tiles alone, and the
        // shared matrices of several would spill out of L2 (a 28×28 first layer at batch 32 ran 1.8× slower so).
        let imagesPerGemm = pixels >= Self.sideBySidePixels ? 1 : min(batch, max(1, Self.columnBudget / max(1, kernelSize * pixels)))
        if imagesPerGemm > 1 {
            // Small feature maps, several images: unfold them side by side and run one wide GEMM,
            // then scatter its rows back to NCHW. A 7×7 map alone leaves most of a 16-wide tile idle.
            let span = imagesPerGemm * pixels   // columns of the shared matrix
            var columns = try workspace.allocate(.float, [kernelSize, span])
            var product = try workspace.allocate(.float, [coutPerGroup, span])
            defer { workspace.recycle(&columns); workspace.recycle(&product) }
            let pc = columns.pointer(as: Float.self), pr = product.pointer(as: Float.self)
            for first in stride(from: 0, to: batch, by: imagesPerGemm) {
                try workspace.checkpoint()
                let images = min(imagesPerGemm, batch - first)
                for gi in 0..<group {
                    for i in 0..<images {
                        unfold(px + (first + i) * imageSize + gi * cinPerGroup * height * width, rows: 0..<outH,
                               into: pc + i * pixels, ld: span)
                        if let residualFloats {   // the product starts from the residual
                            for m in 0..<coutPerGroup {
                                (pr + m * span + i * pixels).update(
                                    from: residualFloats + (first + i) * outputSize + (gi * coutPerGroup + m) * pixels,
                                    count: pixels)
                            }
                        }
                    }
                    multiply(group: gi, columns: pc, n: images * pixels, ldb: span, into: pr, ldc: span)
                    for i in 0..<images {
                        for m in 0..<coutPerGroup {
                            (py + (first + i) * outputSize + (gi * coutPerGroup + m) * pixels)
                                .update(from: pr + m * span + i * pixels, count: pixels)
                        }
                    }
                }
            }
            return [out]
        }

        // Large feature maps: unfold a band of output rows at a time so the columns stay in L2. A strided 1×1 filter's
        // columns are the subsampled image, no larger than the input: one band, so one GEMM as wide as the image
        // (a thousand channels would otherwise leave bands of a row or two, and the GEMM's tiles half empty).
        let bandRows = g.kernel == [1, 1] ? outH : max(1, min(outH, Self.columnBudget / max(1, kernelSize * outW)))
        var columns = try workspace.allocate(.float, [kernelSize, bandRows * outW])
        defer { workspace.recycle(&columns) }
        let pc = columns.pointer(as: Float.self)
        for n in 0..<batch {
            try workspace.checkpoint()
            startFromResidual(image: n)
            for gi in 0..<group {
                let image = px + n * imageSize + gi * cinPerGroup * height * width
                let target = py + n * outputSize + gi * coutPerGroup * pixels
                for row in stride(from: 0, to: outH, by: bandRows) {
                    let rows = min(bandRows, outH - row)
                    unfold(image, rows: row..<(row + rows), into: pc, ld: rows * outW)
                    multiply(group: gi, columns: pc, n: rows * outW, ldb: rows * outW, into: target + row * outW, ldc: pixels)
                }
            }
        }
        return [out]
    }

    /// Three or more spatial dimensions: unfold a band of output pixels at a time (N-d im2col) and
    /// multiply, as the 2-d path does with its row bands.
    private func unfolded(_ x: Tensor, _ w: Tensor, _ bias: Tensor?, _ workspace: Workspace) throws -> Tensor {
        let (batch, channels, outChannels) = (x.shape[0], x.shape[1], w.shape[0])
        guard channels % group == 0, channels / group == w.shape[1], outChannels % group == 0 else {
            throw KernelError("X has \(channels) channels but W \(w.shape) with group \(group) expects \(w.shape[1] * group)")
        }
        if let bias {
            try bias.expect(.float, role: "B")
            guard bias.count == outChannels else { throw KernelError("B has \(bias.count) values for \(outChannels) output channels") }
        }
        let spatial = Array(x.shape.dropFirst(2))
        let g = try window.resolve(input: spatial, kernel: Array(w.shape.dropFirst(2)))
        let out = try workspace.allocate(.float, [batch, outChannels] + g.output)
        let cinPerGroup = channels / group, coutPerGroup = outChannels / group
        // Checked: with no input channels the kernel's dimensions may be anything.
        let kernelSize = try checkedElementCount([cinPerGroup] + g.kernel)
        if out.count == 0 { return out }
        let py = out.pointer(as: Float.self), pb = bias?.pointer(as: Float.self)
        let pixels = g.output.reduce(1, *)
        if x.count == 0 || kernelSize == 0 {   // no input channels: the bias alone
            for plane in 0..<(batch * outChannels) {
                (py + plane * pixels).initialize(repeating: pb?[plane % outChannels] ?? 0, count: pixels)
            }
            if let activation { activation.apply(out.floats) }
            return out
        }
        let planeSize = spatial.reduce(1, *), imageSize = channels * planeSize
        let band = max(1, min(pixels, Self.columnBudget / kernelSize))
        var columns = try workspace.allocate(.float, [kernelSize, band])
        defer { workspace.recycle(&columns) }
        let px = x.pointer(as: Float.self), pw = w.pointer(as: Float.self), pc = columns.pointer(as: Float.self)
        let act = activation?.kernelDescriptor ?? Activation.none
        let packed = filters?.matching(w)
        for n in 0..<batch {
            for gi in 0..<group {
                try workspace.checkpoint()
                let image = px + n * imageSize + gi * cinPerGroup * planeSize
                let target = py + (n * outChannels + gi * coutPerGroup) * pixels
                let groupBias = pb.map { UnsafePointer($0 + gi * coutPerGroup) }
                for first in stride(from: 0, to: pixels, by: band) {
                    let count = min(band, pixels - first)
                    Im2Col.unfold(UnsafePointer(image), channels: cinPerGroup, spatial: spatial, g, pixels: first..<(first + count),
                                  padding: 0, into: pc, ld: count)
                    if let packed {
                        packed[gi].multiply(pc, n: count, ldb: count, into: target + first, ldc: pixels, rowBias: groupBias, activation: act)
                    } else {
                        ds_sgemm(0, 0, coutPerGroup, count, kernelSize, 1, pw + gi * coutPerGroup * kernelSize, kernelSize,
                                 pc, count, 0, target + first, pixels, groupBias, nil, act)
                    }
                }
            }
        }
        return out
    }

    /// Floats of unfolded columns per band (512 KiB, half of L2): a 56×56 ResNet layer goes a few
    /// rows at a time instead of writing megabytes of columns. (1 MiB measured no different.)
    static let columnBudget = 128 * 1024

    /// Output pixels per image from which images are unfolded one at a time rather than side by side.
    static let sideBySidePixels = 256

    /// Filters that each read one input channel: a direct vectorised kernel over a zero-padded copy of each plane, bias
    /// and activation applied in the same pass (CKernels/depthwise.c). One filter per channel is MobileNet's depthwise
    /// layer; `filtersPerChannel` > 1 is a channel multiplier (Keras's depth_multiplier), or, with one input channel,
    /// an ordinary convolution of a grayscale image (the digit CNN's and the encoder's first layers): each output plane
    /// is then the same computation on the one plane, 9 or 25 multiply-adds per output, which im2col and a GEMM of
    /// K = 9 or 25 did at a fraction of the kernel's speed.
    private func depthwise(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
                           _ y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, filtersPerChannel: Int,
                           height: Int, width: Int, _ g: SpatialWindow.Resolved, _ workspace: Workspace) throws {
        let (kh, kw) = (g.kernel[0], g.kernel[1])
        let (outH, outW) = (g.output[0], g.output[1])
        // The padded plane spans every row and column the outputs read (mirrors depthwise.c's layout).
        let rows = try checkedSpan(outH, g.strides[0], kh, g.dilations[0])
        let columns = try checkedSpan(outW, g.strides[1], kw, g.dilations[1])
        _ = try checkedElementCount([rows, columns + 8 * g.strides[1]])
        var scratch = try workspace.allocate(.float, [ds_depthwise_scratch_size(kh, kw, g.strides[0], g.strides[1],
                                                                                 g.dilations[0], g.dilations[1], outH, outW)])
        defer { workspace.recycle(&scratch) }
        // The output channels: `convolve` checked that they are channels × filtersPerChannel (Cout = group · Cout/g).
        let outChannels = channels * filtersPerChannel
        for first in stride(from: 0, to: batch, by: 1) {
            try workspace.checkpoint()
            let status = ds_depthwise_conv2d(x + first * channels * height * width, outChannels, outChannels, filtersPerChannel,
                                             height, width, w, kh, kw, bias,
                                             g.strides[0], g.strides[1], g.padBegin[0], g.padBegin[1], g.dilations[0], g.dilations[1],
                                             outH, outW, scratch.pointer(as: Float.self), activation?.kernelDescriptor ?? Activation.none,
                                             y + first * outChannels * outH * outW)
            guard status == 0 else { throw KernelError("no memory for a \(kh)×\(kw) depthwise kernel's tap table") }
        }
    }

    /// (out − 1) · stride + (kernel − 1) · dilation + 1, the input extent a window reads, checked.
    private func checkedSpan(_ output: Int, _ stride: Int, _ kernel: Int, _ dilation: Int) throws -> Int {
        let (a, o1) = (output - 1).multipliedReportingOverflow(by: stride)
        let (b, o2) = (kernel - 1).multipliedReportingOverflow(by: dilation)
        let (sum, o3) = a.addingReportingOverflow(b)
        guard !o1, !o2, !o3, sum < Int.max else { throw KernelError("the convolution window's extent overflows") }
        return sum + 1
    }
}
