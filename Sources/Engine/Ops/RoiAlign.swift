/// RoiAlign on [N, C, H, W]: each region of interest (x1, y1, x2, y2 in input pixels times
/// `spatial_scale`, on the image `batch_indices` names) pooled to output_height × output_width
/// bins, each the average (or, as onnxruntime, the max of weighted corners) of bilinear samples
/// on a grid of `sampling_ratio`² points per bin (adaptive when 0). `half_pixel` shifts the
/// region by half a pixel; `output_half_pixel` (opset 10's behaviour) does not, and makes regions
/// at least one pixel wide.
struct RoiAlign: Operator {
    let halfPixel: Bool
    let isMax: Bool
    let outputHeight: Int, outputWidth: Int
    let samplingRatio: Int
    let spatialScale: Float

    init(_ context: NodeContext) throws {
        let transformation = try context.attributes.string("coordinate_transformation_mode",
                                                           default: context.opset < 16 ? "output_half_pixel" : "half_pixel")
        guard transformation == "half_pixel" || transformation == "output_half_pixel" else {
            throw context.invalid("coordinate_transformation_mode", "must be half_pixel or output_half_pixel, is '\(transformation)'")
        }
        halfPixel = transformation == "half_pixel"
        let mode = try context.attributes.string("mode", default: "avg")
        guard mode == "avg" || mode == "max" else { throw context.invalid("mode", "must be avg or max, is '\(mode)'") }
        isMax = mode == "max"
        outputHeight = try context.attributes.int("output_height", default: 1)
        outputWidth = try context.attributes.int("output_width", default: 1)
        guard outputHeight >= 1, outputWidth >= 1 else { throw context.invalid("output_height", "and output_width must be positive") }
        samplingRatio = try context.attributes.int("sampling_ratio", default: 0)
        guard samplingRatio >= 0 else { throw context.invalid("sampling_ratio", "must not be negative, is \(samplingRatio)") }
        spatialScale = try context.attributes.float("spatial_scale", default: 1)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), rois = try inputs.required(1), batchIndices = try inputs.required(2)
        try x.expect(.float, role: "X")
        try rois.expect(.float, role: "rois")
        try batchIndices.expect(.int64, .int32, role: "batch_indices")
        guard x.rank == 4, rois.rank == 2, rois.shape[1] == 4, batchIndices.shape == [rois.shape[0]] else {
            throw KernelError("X \(x.shape) must be [N, C, H, W], rois \(rois.shape) [R, 4] and batch_indices \(batchIndices.shape) [R]")
        }
        let (channels, height, width) = (x.shape[1], x.shape[2], x.shape[3])
        let out = try workspace.allocate(.float, [rois.shape[0], channels, outputHeight, outputWidth])
        if out.count == 0 { return [out] }
        guard height > 0, width > 0 else { throw KernelError("cannot sample regions of an empty image \(x.shape)") }
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self), box = rois.pointer(as: Float.self)
        let bins = outputHeight * outputWidth
        for r in 0..<rois.shape[0] {
            let batch = try checkedIndex(batchIndices.int64Element(at: r), dim: x.shape[0], role: "batch index")
            let offset: Float = halfPixel ? 0.5 : 0
            let startX = box[4 * r] * spatialScale - offset, startY = box[4 * r + 1] * spatialScale - offset
            var roiWidth = box[4 * r + 2] * spatialScale - offset - startX, roiHeight = box[4 * r + 3] * spatialScale - offset - startY
            if !halfPixel {
                roiWidth = max(roiWidth, 1)
                roiHeight = max(roiHeight, 1)
            }
            let binHeight = roiHeight / Float(outputHeight), binWidth = roiWidth / Float(outputWidth)
            // A reversed region (half_pixel keeps its negative size) samples nothing: zeros, as the reference.
            let gridH = samplingRatio > 0 ? samplingRatio : max(0, Int(saturating: binHeight.rounded(.up)))
            let gridW = samplingRatio > 0 ? samplingRatio : max(0, Int(saturating: binWidth.rounded(.up)))
            guard gridH <= 1 << 20, gridW <= 1 << 20 else {
                throw KernelError("region \(r) needs a \(gridH)×\(gridW) sampling grid per bin; at most 2^20 on a side")
            }
            let samples = Float(max(gridH * gridW, 1))
            for c in 0..<channels {
                try workspace.checkpoint()
                let plane = src + (batch * channels + c) * height * width
                for ph in 0..<outputHeight {
                    for pw in 0..<outputWidth {
                        var value: Float = 0, found = false
                        for iy in 0..<gridH {
                            try workspace.checkpoint()   // a bin may hold up to 2^40 samples
                            let y = startY + Float(ph) * binHeight + (Float(iy) + 0.5) * binHeight / Float(gridH)
                            for ix in 0..<gridW {
                                let x = startX + Float(pw) * binWidth + (Float(ix) + 0.5) * binWidth / Float(gridW)
                                let corners = bilinear(plane, height: height, width: width, y: y, x: x)
                                if isMax {
                                    let v = max(corners.0, corners.1, corners.2, corners.3)
                                    value = found ? max(value, v) : v
                                    found = true
                                } else {
                                    value += corners.0 + corners.1 + corners.2 + corners.3
                                }
                            }
                        }
                        dst[((r * channels + c) * bins) + ph * outputWidth + pw] = isMax ? value : value / samples
                    }
                }
            }
        }
        return [out]
    }

    /// The four weighted corner values of a bilinear sample at (y, x); zeros outside [-1, size].
    private func bilinear(_ plane: UnsafeMutablePointer<Float>, height: Int, width: Int, y: Float, x: Float) -> (Float, Float, Float, Float) {
        guard y >= -1, y <= Float(height), x >= -1, x <= Float(width) else { return (0, 0, 0, 0) }   // also NaN
        var y = max(y, 0), x = max(x, 0)
        var yLow = Int(saturating: y), xLow = Int(saturating: x), yHigh = yLow + 1, xHigh = xLow + 1
        if yLow >= height - 1 { yLow = height - 1; yHigh = yLow; y = Float(yLow) }
        if xLow >= width - 1 { xLow = width - 1; xHigh = xLow; x = Float(xLow) }
        let ly = y - Float(yLow), lx = x - Float(xLow), hy = 1 - ly, hx = 1 - lx
        return (hy * hx * plane[yLow * width + xLow], hy * lx * plane[yLow * width + xHigh],
                ly * hx * plane[yHigh * width + xLow], ly * lx * plane[yHigh * width + xHigh])
    }
}
