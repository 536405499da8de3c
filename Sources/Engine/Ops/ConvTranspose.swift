import CKernels

/// ConvTranspose (any number of spatial dimensions): a GEMM with the transposed filter, then a fold (col2im) that
/// scatters each column into the strided output; output_padding, output_shape and auto_pad as ONNX.
struct ConvTranspose: ActivationFusing {
    let window: SpatialWindow
    let group: Int
    let outputPadding: [Int]?
    let outputShape: [Int]?
    var activation: Activation?
    /// Wᵀ per group, packed at load when W is a constant (W [Cin, Cout/g, k…]: group g multiplies
    /// by its slice transposed, rows Cout/g·k…, columns Cin/g).
    let filters: PackedFilters?
    /// The same filters split by output phase for the direct kernel, when they suit it (`ConvTransposePhases`).
    let phases: ConvTransposePhases?

    init(_ context: NodeContext) throws {
        window = try SpatialWindow(context, requireKernel: false)
        outputPadding = try context.attributes.ints("output_padding")
        outputShape = try context.attributes.ints("output_shape")
        // Bounds that keep the output-size arithmetic far from overflow, as SpatialWindow's.
        for (name, values) in [("output_padding", outputPadding), ("output_shape", outputShape)] {
            if let values, values.contains(where: { $0 < 0 || $0 > 1 << 24 }) { throw context.invalid(name, "is out of range: \(values)") }
        }
        let weightShape = context.constantInputs.count > 1 ? context.constantInputs[1]?.shape : nil
        let rows = weightShape.map { $0.dropFirst().reduce(1, *) } ?? 0
        (group, filters) = try PackedFilters.load(context) { source, slice in
            PackedMatrix(left: source, rows: rows, columns: slice / max(rows, 1), stride: rows, transposed: true)
        }
        let weight = context.constantInputs.count > 1 ? context.constantInputs[1] : nil
        let (group, window) = (self.group, self.window)
        phases = weight.flatMap { ConvTransposePhases($0, group: group, strides: window.strides, dilations: window.dilations) }
    }

    func fused(with activation: Activation) -> any Operator {
        var copy = self
        copy.activation = activation
        return copy
    }

    /// The window for spatial input size `spatial`: kernel, strides and dilations filled in, the begin padding and the
    /// output size from pads, output_padding, output_shape or auto_pad. Each axis depends on that axis alone.
    func geometry(spatial: [Int], weightKernel: [Int])
        throws -> (kernel: [Int], strides: [Int], dilations: [Int], padBegin: [Int], output: [Int]) {
        let rank = spatial.count
        let kernel = window.kernel ?? weightKernel
        let strides = window.strides ?? Array(repeating: 1, count: rank)
        let dilations = window.dilations ?? Array(repeating: 1, count: rank)
        let extraPadding = outputPadding ?? Array(repeating: 0, count: rank)
        guard kernel.count == rank, strides.count == rank, dilations.count == rank, extraPadding.count == rank,
              (outputShape?.count ?? rank) >= rank, (window.pads?.count ?? 2 * rank) == 2 * rank,
              kernel.allSatisfy({ (1...(1 << 24)).contains($0) }) else {
            throw KernelError("kernel, strides, dilations, output_padding and output_shape must have \(rank) values, pads \(2 * rank)")
        }
        // Bounds that keep stride · (size − 1) from overflowing (an empty batch may claim any size).
        guard spatial.allSatisfy({ $0 <= 1 << 31 }) else { throw KernelError("spatial size \(spatial) is out of range") }
        var padBegin = window.pads.map { Array($0.prefix(rank)) } ?? Array(repeating: 0, count: rank)
        var output = [Int](repeating: 0, count: rank)
        for axis in 0..<rank {
            let extent = (kernel[axis] - 1) * dilations[axis] + 1
            let full = strides[axis] * (spatial[axis] - 1) + extraPadding[axis] + extent
            var target: Int? = outputShape.map { $0.suffix(rank)[$0.count - rank + axis] }
            if target == nil, window.autoPad == .sameUpper || window.autoPad == .sameLower {
                target = spatial[axis] * strides[axis]
            }
            if let target {
                // Python's floor division, as the spec's reference: a negative total (output_shape
                // larger than the natural size) extends the end.
                let total = full - target
                let half = Int((Double(total) / 2).rounded(.down))
                padBegin[axis] = window.autoPad == .sameUpper ? half : total - half
                output[axis] = target
            } else {
                let padEnd = window.pads.map { $0[rank + axis] } ?? 0
                output[axis] = full - padBegin[axis] - padEnd
            }
            guard output[axis] > 0 else { throw KernelError("output size \(output) is not positive") }
        }
        return (kernel, strides, dilations, padBegin, output)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), w = try inputs.required(1)
        let bias = inputs.optional(2)
        try x.expect(.float, role: "X")
        try w.expect(.float, role: "W")
        try bias?.expect(.float, role: "B")
        guard x.rank >= 3, x.rank == w.rank else {
            throw KernelError("X \(x.shape) and W \(w.shape) must both be N × C × spatial… of the same rank")
        }
        let rank = x.rank - 2
        let spatial = Array(x.shape.dropFirst(2))
        let (kernel, strides, dilations, padBegin, output) = try geometry(spatial: spatial, weightKernel: Array(w.shape.dropFirst(2)))
        let (batch, channels) = (x.shape[0], x.shape[1])
        let coutPerGroup = w.shape[1], outChannels = coutPerGroup * group
        guard w.shape[0] == channels, channels % group == 0 else {
            throw KernelError("X has \(channels) channels but W is \(w.shape) with group \(group)")
        }
        if let bias, bias.count != outChannels { throw KernelError("B has \(bias.count) values for \(outChannels) output channels") }

        // As 2-d: height 1 for a 1-d transpose.
        let k2 = rank == 1 ? [1] + kernel : kernel, s2 = rank == 1 ? [1] + strides : strides
        let d2 = rank == 1 ? [1] + dilations : dilations, p2 = rank == 1 ? [0] + padBegin : padBegin
        let in2 = rank == 1 ? [1] + spatial : spatial, out2 = rank == 1 ? [1] + output : output

        let out = try workspace.allocate(.float, [batch, outChannels] + output)
        // Nothing to compute (batch or channels 0); the batch loop below must not step by 0 images.
        if out.count == 0 || channels == 0 {
            out.pointer(as: Float.self).initialize(repeating: 0, count: out.count)
            return [try biased(out, bias, outChannels: outChannels, outPixels: output.reduce(1, *))]
        }
        let py = out.pointer(as: Float.self)
        if rank == 2, let phases, phases.shape == w.shape, kernel == Array(w.shape.dropFirst(2)), strides == phases.strides,
           try phases.run(x.pointer(as: Float.self), batch: batch, height: spatial[0], width: spatial[1], padBegin: padBegin,
                          output: output, bias: bias?.pointer(as: Float.self), activation: activation, into: py, workspace) {
            return [out]
        }
        py.initialize(repeating: 0, count: out.count)
        let cinPerGroup = channels / group
        // Checked: with no output channels the kernel's dimensions may be anything.
        let rows = try checkedElementCount([coutPerGroup] + kernel), pixels = Tensor.elementCount(spatial), outPixels = output.reduce(1, *)
        let px = x.pointer(as: Float.self), pw = w.pointer(as: Float.self)
        let packed = filters?.matching(w)
        // Several small images side by side make one wide GEMM (see Conv); their inputs are
        // gathered into one matrix [Cin/g × images·pixels] first.
        let imagesPerGemm = min(batch, max(1, Conv.columnBudget / max(1, rows * pixels)))
        let span = imagesPerGemm * pixels
        var columns = try workspace.allocate(.float, [rows, span])
        var gathered = try workspace.allocate(.float, [cinPerGroup, imagesPerGemm > 1 ? span : 0])
        defer { workspace.recycle(&columns); workspace.recycle(&gathered) }
        let pc = columns.pointer(as: Float.self), pg = gathered.pointer(as: Float.self)
        for first in stride(from: 0, to: batch, by: imagesPerGemm) {
            try workspace.checkpoint()
            let images = min(imagesPerGemm, batch - first)
            for gi in 0..<group {
                var input = px + (first * channels + gi * cinPerGroup) * pixels, ldb = pixels
                if imagesPerGemm > 1 {
                    for i in 0..<images {
                        for c in 0..<cinPerGroup {
                            (pg + c * span + i * pixels).update(from: px + ((first + i) * channels + gi * cinPerGroup + c) * pixels, count: pixels)
                        }
                    }
                    input = pg
                    ldb = span
                }
                if let packed {
                    packed[gi].multiply(input, n: images * pixels, ldb: ldb, into: pc, ldc: span)
                } else {
                    ds_sgemm(1, 0, rows, images * pixels, cinPerGroup, 1, pw + gi * cinPerGroup * rows, rows,
                             input, ldb, 0, pc, span, nil, nil, Activation.none)
                }
                for i in 0..<images where rank > 2 {
                    Im2Col.foldAdding(pc + i * pixels, channels: coutPerGroup, input: spatial, output: output, kernel: kernel,
                                      strides: strides, dilations: dilations, padBegin: padBegin,
                                      into: py + ((first + i) * outChannels + gi * coutPerGroup) * outPixels, ld: span)
                }
                for i in 0..<images where rank <= 2 {
                    ds_col2im_add(pc + i * pixels, coutPerGroup, out2[0], out2[1], k2[0], k2[1], p2[0], p2[1], s2[0], s2[1],
                                  d2[0], d2[1], in2[0], in2[1], py + ((first + i) * outChannels + gi * coutPerGroup) * outPixels, span)
                }
            }
        }
        return [try biased(out, bias, outChannels: outChannels, outPixels: outPixels)]
    }

    /// Adds the per-channel bias and applies the fused activation in place.
    private func biased(_ out: Tensor, _ bias: Tensor?, outChannels: Int, outPixels: Int) throws -> Tensor {
        guard bias != nil || activation != nil, outChannels > 0 else { return out }
        let py = out.pointer(as: Float.self), pb = bias?.pointer(as: Float.self)
        for plane in 0..<(out.count / max(outPixels, 1)) where outPixels > 0 {
            let channel = UnsafeMutableBufferPointer(start: py + plane * outPixels, count: outPixels)
            if let pb { let b = pb[plane % outChannels]; for i in channel.indices { channel[i] += b } }
            activation?.apply(channel)
        }
        return out
    }
}
