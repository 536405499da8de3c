/// Resize (opset 10–19) and Upsample (opset 7–9): nearest, linear and cubic interpolation over any
/// axes, every coordinate transformation mode, antialiased downscaling (opset 18), applied one axis
/// at a time (all three kernels are separable, which keeps N-d resizing a sequence of 1-d passes).
struct Resize: Operator {
    enum Mode: String, Sendable { case nearest, linear, cubic }
    enum NearestMode: String, Sendable { case roundPreferFloor = "round_prefer_floor", roundPreferCeil = "round_prefer_ceil", floor, ceil }
    enum Transform: String, Sendable {
        case halfPixel = "half_pixel", halfPixelSymmetric = "half_pixel_symmetric", pytorchHalfPixel = "pytorch_half_pixel"
        case alignCorners = "align_corners", asymmetric, tfCropAndResize = "tf_crop_and_resize"
    }
    enum AspectPolicy: String, Sendable { case stretch, notLarger = "not_larger", notSmaller = "not_smaller" }

    let mode: Mode
    let nearestMode: NearestMode
    let transform: Transform
    let cubicA: Float
    let excludeOutside: Bool
    let extrapolationValue: Float
    let axes: [Int]?
    let aspectPolicy: AspectPolicy
    /// Linear and cubic filters widened by 1/scale when downscaling (opset 18); no effect on nearest.
    let antialias: Bool
    /// Upsample-7 gives scales as an attribute.
    let attributeScales: [Float]?
    /// Where the scales/sizes inputs sit: Upsample-9 and Resize-10 take (X, scales); later Resize (X, roi, scales, sizes).
    let legacyInputs: Bool

    init(_ context: NodeContext, upsample: Bool) throws {
        let a = context.attributes
        let modeName = try a.string("mode", default: "nearest")
        // Upsample-7 calls linear "bilinear" in some exporters.
        guard let mode = Mode(rawValue: modeName == "bilinear" ? "linear" : modeName) else {
            throw context.invalid("mode", "must be nearest, linear or cubic, is '\(modeName)'")
        }
        self.mode = mode
        let legacy = upsample || context.opset < 11
        legacyInputs = legacy
        let nearestName = try a.string("nearest_mode", default: legacy ? "floor" : "round_prefer_floor")
        guard let nearestMode = NearestMode(rawValue: nearestName) else {
            throw context.invalid("nearest_mode", "is unknown: '\(nearestName)'")
        }
        self.nearestMode = nearestMode
        let transformName = try a.string("coordinate_transformation_mode", default: legacy ? "asymmetric" : "half_pixel")
        guard let transform = Transform(rawValue: transformName) else {
            throw context.invalid("coordinate_transformation_mode", "is unknown: '\(transformName)'")
        }
        self.transform = transform
        cubicA = try a.float("cubic_coeff_a", default: -0.75)
        excludeOutside = try a.flag("exclude_outside", default: false)
        extrapolationValue = try a.float("extrapolation_value", default: 0)
        axes = try a.ints("axes")
        let policyName = try a.string("keep_aspect_ratio_policy", default: "stretch")
        guard let policy = AspectPolicy(rawValue: policyName) else {
            throw context.invalid("keep_aspect_ratio_policy", "is unknown: '\(policyName)'")
        }
        aspectPolicy = policy
        antialias = try a.flag("antialias", default: false) && mode != .nearest
        attributeScales = upsample && context.opset < 9 ? try a.floats("scales") : nil
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "X")
        let rank = x.rank
        let axes = try (self.axes ?? Array(0..<rank)).map { try normalizedAxis($0, rank: rank) }
        let scalesInput = legacyInputs ? inputs.optional(1) : inputs.optional(2)
        let sizesInput = legacyInputs ? nil : inputs.optional(3)
        let (sizes, scales) = try outputSizes(input: x.shape, axes: axes, scalesInput: scalesInput, sizesInput: sizesInput)
        for axis in 0..<rank where x.shape[axis] == 0 && sizes[axis] > 0 {
            throw KernelError("cannot resize the empty axis \(axis) of \(x.shape) to \(sizes[axis])")
        }
        var roi = [Float](repeating: 0, count: rank) + [Float](repeating: 1, count: rank)
        if transform == .tfCropAndResize, let given = inputs.optional(1), given.count > 0 {
            let values = given.floatArray()
            guard values.count == 2 * axes.count else { throw KernelError("roi has \(values.count) values for \(axes.count) axes") }
            for (i, axis) in axes.enumerated() {
                roi[axis] = values[i]
                roi[rank + axis] = values[axes.count + i]
            }
        }
        var current = x
        for axis in 0..<rank where sizes[axis] != x.shape[axis] || scales[axis] != 1 || transform == .tfCropAndResize {
            let taps = antialias
                ? try antialiasedTaps(input: x.shape[axis], output: sizes[axis], scale: scales[axis], roiStart: roi[axis], roiEnd: roi[rank + axis])
                : taps(input: x.shape[axis], output: sizes[axis], scale: scales[axis], roiStart: roi[axis], roiEnd: roi[rank + axis])
            let next = try resizeAxis(current, axis: axis, taps: taps, workspace)
            if current.storage !== x.storage { workspace.recycle(&current) }
            current = next
        }
        return [current.storage === x.storage ? try copy(current, workspace) : current]
    }

    /// Sizes from the `sizes` input, adjusted by keep_aspect_ratio_policy; scales follow from them.
    /// The output size and scale per axis, from the sizes input (when given and not empty) or the scales.
    func outputSizes(input: [Int], axes: [Int], scalesInput: Tensor?, sizesInput: Tensor?) throws -> (sizes: [Int], scales: [Float]) {
        var scales = [Float](repeating: 1, count: input.count)
        var sizes = input
        if let sizesInput, sizesInput.count > 0 {
            let given = try indexList(sizesInput, role: "sizes")
            guard given.count == axes.count else { throw KernelError("sizes has \(given.count) values for \(axes.count) axes") }
            try resolveSizes(given, axes: axes, input: input, sizes: &sizes, scales: &scales)
        } else if let given = attributeScales ?? scalesInput.flatMap({ $0.count > 0 ? $0.floatArray() : nil }) {
            guard given.count == axes.count else { throw KernelError("scales has \(given.count) values for \(axes.count) axes") }
            for (axis, scale) in zip(axes, given) {
                guard scale > 0 else { throw KernelError("scales must be positive, got \(given)") }
                let size = (Double(input[axis]) * Double(scale)).rounded(.down)
                guard size <= Double(1 << 28) else { throw KernelError("scale \(scale) gives an output too large") }
                scales[axis] = scale
                sizes[axis] = Int(size)   // finite and at most 2^28: checked above
            }
        } else {
            throw KernelError("one of scales and sizes is required")
        }
        guard sizes.allSatisfy({ $0 >= 0 }), try checkedElementCount(sizes) <= 1 << 28 else {
            throw KernelError("output size \(sizes) is out of range")
        }
        return (sizes, scales)
    }

    private func resolveSizes(_ given: [Int], axes: [Int], input: [Int], sizes: inout [Int], scales: inout [Float]) throws {
        var ratios = zip(axes, given).map { Float($0.1) / Float(input[$0.0]) }
        if aspectPolicy != .stretch {
            let ratio = aspectPolicy == .notLarger ? ratios.min() ?? 1 : ratios.max() ?? 1
            ratios = ratios.map { _ in ratio }
        }
        for (i, axis) in axes.enumerated() {
            scales[axis] = ratios[i]
            let adjusted = (Double(input[axis]) * Double(ratios[i])).rounded()
            guard adjusted.isFinite, adjusted <= Double(1 << 28) else { throw KernelError("sizes \(given) are too large") }
            sizes[axis] = aspectPolicy == .stretch ? given[i] : Int(adjusted)
        }
    }

    /// For one axis: each output index's source taps, or nil where tf_crop_and_resize extrapolates.
    private func taps(input: Int, output: Int, scale: Float, roiStart: Float, roiEnd: Float) -> [[(Int, Float)]?] {
        (0..<output).map { o -> [(Int, Float)]? in
            let x = sourceCoordinate(Float(o), scale: scale, input: input, output: output, roiStart: roiStart, roiEnd: roiEnd)
            if transform == .tfCropAndResize && (x < 0 || x > Float(input - 1)) { return nil }
            switch mode {
            case .nearest:
                return [(min(max(nearestIndex(x), 0), input - 1), 1)]
            case .linear:
                let clamped = min(max(x, 0), Float(input - 1))
                let i0 = Int(saturating: clamped.rounded(.down)), i1 = min(i0 + 1, input - 1)
                let t = clamped - Float(i0)
                return [(i0, 1 - t), (i1, t)]
            case .cubic:
                let i0 = min(max(Int(saturating: x.rounded(.down)), -4), input + 4), t = x - x.rounded(.down)   // clamped: taps are clamped anyway
                let a = cubicA
                func far(_ d: Float) -> Float { ((a * d - 5 * a) * d + 8 * a) * d - 4 * a }
                func near(_ d: Float) -> Float { ((a + 2) * d - (a + 3)) * d * d + 1 }
                var taps = [(i0 - 1, far(t + 1)), (i0, near(t)), (i0 + 1, near(1 - t)), (i0 + 2, far(2 - t))]
                if excludeOutside {
                    taps = taps.map { ($0.0, (0..<input).contains($0.0) ? $0.1 : 0) }
                    let total = taps.reduce(0) { $0 + $1.1 }
                    taps = taps.map { ($0.0, total != 0 ? $0.1 / total : 0) }
                }
                return taps.map { (min(max($0.0, 0), input - 1), $0.1) }
            }
        }
    }

    /// Antialiased taps, as the onnx reference: the linear (triangle) or cubic kernel stretched by
    /// 1/scale when scale < 1, sampled at the input pixels nearest the source coordinate, and
    /// normalised to sum 1; taps past the edges read the edge pixel (or are dropped with exclude_outside).
    private func antialiasedTaps(input: Int, output: Int, scale: Float, roiStart: Float, roiEnd: Float) throws -> [[(Int, Float)]?] {
        if output == 0 { return [] }
        let stretch = Double(min(scale, 1))
        // Half-width of the stretched kernel in input pixels, and the tap count it needs.
        let support = (mode == .cubic ? 2 : 1) / stretch
        // A scale so small that the window is wider than the input can only come from a crafted
        // scales input (an output of at least one pixel bounds 1/scale by the input length).
        guard support.isFinite, support <= Double(2 * input + 8) else {
            throw KernelError("scale \(scale) makes an antialiasing filter wider than the axis of \(input)")
        }
        let first = Int((-support).rounded(.down)) + 1   // finite and small: checked above
        let count = 2 - 2 * first
        let a = Double(cubicA)
        func weight(_ x: Double) -> Double {
            let x = abs(x)
            if mode == .linear { return max(0, 1 - x) }
            if x <= 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
            return 0
        }
        let pad = (count + 1) / 2
        return (0..<output).map { o -> [(Int, Float)]? in
            let x = Double(sourceCoordinate(Float(o), scale: scale, input: input, output: output, roiStart: roiStart, roiEnd: roiEnd))
            if transform == .tfCropAndResize && (x < 0 || x > Double(input - 1)) { return nil }
            let base = x.rounded(.down)
            let ratio = x == base ? 1 : x - base
            var weights = (0..<count).map { weight(stretch * (Double(first + $0) - ratio)) }
            // The `count` indices nearest x, ties to the smaller (the reference's neighbour search).
            let padded = x + Double(pad), p = padded.rounded(.down), fraction = padded - p
            let offset = count % 2 == 0 ? (fraction == 0 ? -(count / 2) : -(count / 2) + 1)
                                        : (fraction <= 0.5 ? -((count - 1) / 2) : -((count - 1) / 2) + 1)
            let start = Int(saturating: p) + offset - pad
            if excludeOutside {
                for j in 0..<count where !(0..<input).contains(start + j) { weights[j] = 0 }
            }
            let total = weights.reduce(0, +)
            return (0..<count).map { j in (min(max(start + j, 0), input - 1), Float(total != 0 ? weights[j] / total : 0)) }
        }
    }

    private func sourceCoordinate(_ x: Float, scale: Float, input: Int, output: Int, roiStart: Float, roiEnd: Float) -> Float {
        switch transform {
        case .halfPixel: return (x + 0.5) / scale - 0.5
        case .halfPixelSymmetric:
            let adjustment = Float(output) / (scale * Float(input))   // 1 unless the size was rounded
            let center = Float(input) / 2
            return center * (1 - adjustment) + (x + 0.5) / scale - 0.5
        case .pytorchHalfPixel: return output > 1 ? (x + 0.5) / scale - 0.5 : 0
        // The spec's length_resized is input · scale, before rounding to whole pixels.
        case .alignCorners:
            let length = Float(input) * scale
            return length <= 1 ? 0 : x * Float(input - 1) / (length - 1)
        case .asymmetric: return x / scale
        case .tfCropAndResize:
            return output > 1
                ? roiStart * Float(input - 1) + x * (roiEnd - roiStart) * Float(input - 1) / Float(output - 1)
                : 0.5 * (roiStart + roiEnd) * Float(input - 1)
        }
    }

    private func nearestIndex(_ x: Float) -> Int {
        switch nearestMode {
        // Saturating: a NaN or huge coordinate (from a crafted roi) must not trap; callers clamp.
        case .floor: return Int(saturating: x.rounded(.down))
        case .ceil: return Int(saturating: x.rounded(.up))
        case .roundPreferFloor: return Int(saturating: x - x.rounded(.down) == 0.5 ? x.rounded(.down) : x.rounded())
        case .roundPreferCeil: return Int(saturating: x - x.rounded(.down) == 0.5 ? x.rounded(.up) : x.rounded())
        }
    }

    private func resizeAxis(_ x: Tensor, axis: Int, taps: [[(Int, Float)]?], _ workspace: Workspace) throws -> Tensor {
        var shape = x.shape
        shape[axis] = taps.count
        let out = try workspace.allocate(.float, shape)
        if out.count == 0 { return out }
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *), length = x.shape[axis]
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self)
        // The taps flattened once (output j reads sources[first[j]..<first[j + 1]]), so the loops
        // below touch no Swift arrays of arrays: resizing the last axis runs them once per pixel.
        var first = [0], sources: [Int] = [], weights: [Float] = []
        for tap in taps {
            for (index, weight) in tap ?? [] where weight != 0 {
                sources.append(index)
                weights.append(weight)
            }
            first.append(sources.count)
        }
        let extrapolated = taps.map { $0 == nil }
        let single = taps.allSatisfy { $0 != nil } && zip(first, first.dropFirst()).allSatisfy { $1 - $0 == 1 } && weights.allSatisfy { $0 == 1 }
        first.withUnsafeBufferPointer { first in
            sources.withUnsafeBufferPointer { sources in
                weights.withUnsafeBufferPointer { weights in
                    for o in 0..<outer {
                        let plane = src + o * length * inner, target = dst + o * taps.count * inner
                        if single && inner == 1 {
                            // Nearest along the last axis: a gather.
                            for j in 0..<taps.count { target[j] = plane[sources[j]] }
                            continue
                        }
                        for j in 0..<taps.count {
                            let row = target + j * inner
                            if extrapolated[j] {
                                row.initialize(repeating: extrapolationValue, count: inner)
                            } else if single {
                                row.update(from: plane + sources[j] * inner, count: inner)
                            } else if inner == 1 {
                                var sum: Float = 0
                                for t in first[j]..<first[j + 1] { sum += weights[t] * plane[sources[t]] }
                                row[0] = sum
                            } else {
                                row.initialize(repeating: 0, count: inner)
                                for t in first[j]..<first[j + 1] {
                                    let weight = weights[t], source = plane + sources[t] * inner
                                    for i in 0..<inner { row[i] += weight * source[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
