import CKernels

/// A 2-d ConvTranspose with stride s as s_h·s_w ordinary convolutions, one per output phase (sub-pixel convolution),
/// each run by the direct kernel: no GEMM into a column matrix, no col2im scatter-add.
///
/// Output row oy = iy·s − pad + i receives input row iy through filter row i only when i ≡ (oy + pad) mod s. So the
/// outputs of phase (ry, rx) — those with (oy + pad_h) mod s_h = ry and (ox + pad_w) mod s_w = rx — form a grid
/// (a, b) = ((oy + pad_h) div s_h, (ox + pad_w) div s_w), and y(a, b) = Σ x[a − t][b − u] · W[ry + s_h·t][rx + s_w·u]:
/// a stride-1 correlation with the phase's filter taps, flipped. Each phase is convolved into a scratch grid, then
/// copied to its strided place in the output. Built at load for constant float filters, one group, no dilation.
final class ConvTransposePhases: @unchecked Sendable {
    private struct Phase {
        let row: Int, column: Int             // ry, rx
        let kernelH: Int, kernelW: Int        // the phase's taps per axis (0 when the filter has none)
        let filters: DirectConvFilters?       // [Cout][Cin · kernelH · kernelW], flipped; nil without taps
    }

    let shape: [Int]
    let strides: [Int]
    private let outChannels: Int
    private let phases: [Phase]

    /// nil unless W (Cin × Cout × kh × kw) is a float constant of a 2-d, ungrouped, undilated transpose whose phases
    /// all have enough taps and output channels for the direct kernel (a single output channel would fill a 16-wide
    /// panel with zeros; the GEMM path is better there).
    init?(_ weight: Tensor, group: Int, strides: [Int]?, dilations: [Int]?) {
        guard weight.dataType == .float, weight.rank == 4, group == 1 else { return nil }
        let strides = strides ?? [1, 1]
        guard strides.count == 2, strides.allSatisfy({ (1...8).contains($0) }), (dilations ?? [1, 1]) == [1, 1] else { return nil }
        let (inChannels, outChannels, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        guard outChannels >= 8, kh >= 1, kw >= 1 else { return nil }
        let source = weight.pointer(as: Float.self)
        var phases: [Phase] = []
        for ry in 0..<strides[0] {
            for rx in 0..<strides[1] {
                let t = ry < kh ? (kh - ry + strides[0] - 1) / strides[0] : 0
                let u = rx < kw ? (kw - rx + strides[1] - 1) / strides[1] : 0
                guard t > 0, u > 0 else {
                    phases.append(Phase(row: ry, column: rx, kernelH: t, kernelW: u, filters: nil))
                    continue
                }
                let taps = inChannels * t * u
                guard taps >= DirectConvFilters.minimumTaps else { return nil }
                // sub[oc][ic][t′][u′] = W[ic][oc][ry + s_h·(T − 1 − t′)][rx + s_w·(U − 1 − u′)]
                var sub = [Float](repeating: 0, count: outChannels * taps)
                for oc in 0..<outChannels {
                    for ic in 0..<inChannels {
                        for i in 0..<t {
                            for j in 0..<u {
                                let fi = ry + strides[0] * (t - 1 - i), fj = rx + strides[1] * (u - 1 - j)
                                sub[((oc * inChannels + ic) * t + i) * u + j] = source[((ic * outChannels + oc) * kh + fi) * kw + fj]
                            }
                        }
                    }
                }
                let filters = sub.withUnsafeBufferPointer {
                    DirectConvFilters($0.baseAddress!, shape: weight.shape, group: 1, outChannelsPerGroup: outChannels, taps: taps)
                }
                phases.append(Phase(row: ry, column: rx, kernelH: t, kernelW: u, filters: filters))
            }
        }
        shape = weight.shape
        self.strides = strides
        self.outChannels = outChannels
        self.phases = phases
    }

    /// The transpose of `batch` images (Cin × height × width) into y (Cout × output[0] × output[1], every element
    /// written), with the output's leading padding `padBegin`. Returns false, having written nothing, when a phase's
    /// window would need negative padding (a leading pad larger than the filter), which the GEMM path handles.
    func run(_ x: UnsafePointer<Float>, batch: Int, height: Int, width: Int, padBegin: [Int], output: [Int],
             bias: UnsafePointer<Float>?, activation: Activation?, into y: UnsafeMutablePointer<Float>,
             _ workspace: Workspace) throws -> Bool {
        let inChannels = shape[0]
        // Per phase: the first grid index whose output lies in the image, and how many do.
        func grid(_ r: Int, axis: Int) -> (first: Int, count: Int) {
            let s = strides[axis], pad = padBegin[axis]
            let first = Self.ceilDiv(pad - r, s), end = Self.ceilDiv(output[axis] + pad - r, s)
            return (max(first, 0), max(end - max(first, 0), 0))
        }
        for phase in phases where phase.filters != nil {
            if phase.kernelH - 1 < grid(phase.row, axis: 0).first || phase.kernelW - 1 < grid(phase.column, axis: 1).first {
                return false
            }
        }
        let (outH, outW) = (output[0], output[1])
        let act = activation?.kernelDescriptor ?? Activation.none
        for phase in phases {
            try workspace.checkpoint()
            let rows = grid(phase.row, axis: 0), columns = grid(phase.column, axis: 1)
            if rows.count == 0 || columns.count == 0 { continue }
            let oy0 = rows.first * strides[0] + phase.row - padBegin[0], ox0 = columns.first * strides[1] + phase.column - padBegin[1]
            guard let filters = phase.filters else {
                // No filter tap lands on this phase: its outputs are the bias alone.
                var values = (0..<outChannels).map { bias?[$0] ?? 0 }
                values.withUnsafeMutableBufferPointer { activation?.apply($0) }
                for n in 0..<batch {
                    for oc in 0..<outChannels {
                        let plane = y + (n * outChannels + oc) * outH * outW
                        for a in 0..<rows.count {
                            for b in 0..<columns.count { plane[(oy0 + a * strides[0]) * outW + ox0 + b * strides[1]] = values[oc] }
                        }
                    }
                }
                continue
            }
            // The padded copy the kernel makes (its C size arithmetic is unchecked): at most this big.
            _ = try checkedElementCount([inChannels, rows.count + phase.kernelH, columns.count + phase.kernelW])
            let shape = ds_conv2d_shape(channels: inChannels, height: height, width: width, kernel_h: phase.kernelH,
                                        kernel_w: phase.kernelW, stride_h: 1, stride_w: 1,
                                        pad_top: phase.kernelH - 1 - rows.first, pad_left: phase.kernelW - 1 - columns.first,
                                        dilation_h: 1, dilation_w: 1, out_h: rows.count, out_w: columns.count)
            var grids = try workspace.allocate(.float, [batch, outChannels, rows.count, columns.count])
            defer { workspace.recycle(&grids) }
            let pg = grids.pointer(as: Float.self)
            try filters.convolve(x, batch: batch, shape: shape, bias: bias, accumulate: false, activation: act, into: pg, workspace)
            // The phase's grid to its strided place in the output.
            for plane in 0..<(batch * outChannels) {
                let source = pg + plane * rows.count * columns.count, target = y + plane * outH * outW + oy0 * outW + ox0
                for a in 0..<rows.count {
                    let from = source + a * columns.count, to = target + a * strides[0] * outW
                    for b in 0..<columns.count { to[b * strides[1]] = from[b] }
                }
            }
        }
        return true
    }

    /// ⌈a / b⌉ for b > 0 and any a.
    private static func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
}
