import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// BatchNormalization in inference mode: y = (x − mean) / √(var + ε) · scale + bias, per channel (axis 1).
struct BatchNormalization: Operator {
    let epsilon: Float

    init(_ context: NodeContext) throws {
        epsilon = try context.attributes.float("epsilon", default: 1e-5)
        if try context.attributes.flag("training_mode", default: false) || context.outputCount > 1 && context.opset >= 14 {
            throw EngineError.unsupportedOperator(
                opType: "BatchNormalization (training mode)", domain: context.domain, opset: context.opset, node: context.name)
        }
        if context.opset < 7, try context.attributes.int("is_test", default: 0) == 0, context.outputCount > 1 {
            throw EngineError.unsupportedOperator(
                opType: "BatchNormalization (training mode)", domain: context.domain, opset: context.opset, node: context.name)
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let parameters = try (1...4).map { try inputs.required($0) }
        try x.expect(.float, role: "X")
        guard x.rank >= 2 else { throw KernelError("X must have a channel axis, got \(x.shape)") }
        let channels = x.shape[1]
        for (name, tensor) in zip(["scale", "B", "mean", "var"], parameters) {
            try tensor.expect(.float, role: name)
            guard tensor.count == channels else { throw KernelError("\(name) has \(tensor.count) values for \(channels) channels") }
        }
        let (scale, bias, mean, variance) = (parameters[0].pointer(as: Float.self), parameters[1].pointer(as: Float.self),
                                             parameters[2].pointer(as: Float.self), parameters[3].pointer(as: Float.self))
        let out = try workspace.allocate(.float, x.shape)
        if out.count == 0 { return [out] }   // empty: no planes to loop over, however many the shape claims
        let size = x.shape.dropFirst(2).reduce(1, *)
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        for plane in 0..<(x.shape[0] * channels) {
            let c = plane % channels
            let a = scale[c] / sqrtf(variance[c] + epsilon)
            let b = bias[c] - mean[c] * a
            let src = px + plane * size, dst = py + plane * size
            for i in 0..<size { dst[i] = src[i] * a + b }
        }
        return [out]
    }
}

/// InstanceNormalization: per (image, channel) mean and variance over the spatial axes.
struct InstanceNormalization: Operator {
    let epsilon: Float

    init(_ context: NodeContext) throws {
        epsilon = try context.attributes.float("epsilon", default: 1e-5)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), scale = try inputs.required(1), bias = try inputs.required(2)
        try x.expect(.float, role: "input")
        try scale.expect(.float, role: "scale")
        try bias.expect(.float, role: "B")
        guard x.rank >= 2, scale.count == x.shape[1], bias.count == x.shape[1] else {
            throw KernelError("scale \(scale.shape) and B \(bias.shape) must have one value per channel of \(x.shape)")
        }
        let out = try workspace.allocate(.float, x.shape)
        if out.count == 0 { return [out] }   // empty: no planes to loop over, however many the shape claims
        let channels = x.shape[1], size = x.shape.dropFirst(2).reduce(1, *)
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        let ps = scale.pointer(as: Float.self), pb = bias.pointer(as: Float.self)
        for plane in 0..<(x.shape[0] * channels) {
            let c = plane % channels
            normalize(px + plane * size, py + plane * size, size, epsilon: epsilon) { _, v in v * ps[c] + pb[c] }
        }
        return [out]
    }
}

/// LayerNormalization over the axes from `axis` on, with scale and bias broadcast over them.
struct LayerNormalization: Operator {
    let axis: Int
    let epsilon: Float

    init(_ context: NodeContext) throws {
        axis = try context.attributes.int("axis", default: -1)
        epsilon = try context.attributes.float("epsilon", default: 1e-5)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), scale = try inputs.required(1)
        let bias = inputs.optional(2)
        try x.expect(.float, role: "X")
        let axis = try normalizedAxis(self.axis, rank: x.rank, allowingScalar: true)
        let normShape = Array(x.shape[axis...])
        // Read through broadcasting below: a scale or bias that does not broadcast to the normalised
        // shape would be read out of bounds.
        for (role, tensor) in [("Scale", scale), ("B", bias)] {
            guard let tensor else { continue }
            try tensor.expect(.float, role: role)
            guard try Broadcast.shape([normShape, tensor.shape]) == normShape else {
                throw KernelError("\(role) \(tensor.shape) does not broadcast to the normalised shape \(normShape)")
            }
        }
        let size = normShape.reduce(1, *), rows = x.count / max(size, 1)
        // Scale and bias broadcast to the normalised shape.
        let scaleFull = try workspace.allocate(.float, normShape)
        let ones = Tensor(shape: normShape, floats: [Float](repeating: 1, count: size))
        binaryLoop(ones, scale, scaleFull, Float.self) { $0 * $1 }
        var biasFull: Tensor?
        if let bias {
            let full = try workspace.allocate(.float, normShape)
            binaryLoop(ones, bias, full, Float.self) { $0 * $1 }
            biasFull = full
        }
        let out = try workspace.allocate(.float, x.shape)
        // Mean and InvStdDev outputs keep the normalised axes with size 1.
        let statisticsShape = Array(x.shape[..<axis]) + Array(repeating: 1, count: x.rank - axis)
        let means = try workspace.allocate(.float, statisticsShape), inverseDeviations = try workspace.allocate(.float, statisticsShape)
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        let ps = scaleFull.pointer(as: Float.self), pb = biasFull?.pointer(as: Float.self)
        for row in 0..<rows {
            let (mean, inverse) = normalize(px + row * size, py + row * size, size, epsilon: epsilon) { i, v in v * ps[i] + (pb?[i] ?? 0) }
            means.pointer(as: Float.self)[row] = mean
            inverseDeviations.pointer(as: Float.self)[row] = inverse
        }
        return [out, means, inverseDeviations]
    }
}

/// dst[i] = affine(i, (src[i] − mean) / √(variance + ε)), statistics in Double for stability.
@inline(__always) @discardableResult
private func normalize(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
                       epsilon: Float, _ affine: (Int, Float) -> Float) -> (mean: Float, inverseDeviation: Float) {
    var mean = 0.0
    for i in 0..<n { mean += Double(src[i]) }
    mean /= Double(max(n, 1))
    var variance = 0.0
    for i in 0..<n { let d = Double(src[i]) - mean; variance += d * d }
    variance /= Double(max(n, 1))
    let inverse = Float(1 / (variance + Double(epsilon)).squareRoot())
    let m = Float(mean)
    for i in 0..<n { dst[i] = affine(i, (src[i] - m) * inverse) }
    return (m, inverse)
}

/// Softmax and LogSoftmax: over one axis (opset ≥ 13) or over the flattened axes from `axis` on (older opsets).
struct Softmax: Operator {
    let axis: Int
    let flattensTrailingAxes: Bool
    let logarithm: Bool

    init(_ context: NodeContext, logarithm: Bool) throws {
        self.logarithm = logarithm
        flattensTrailingAxes = context.opset < 13
        axis = try context.attributes.int("axis", default: context.opset < 13 ? 1 : -1)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let given = try inputs.required(0)
        try given.expect(.float, role: "input")
        let x = given.rank == 0 ? given.reshaped([1]) : given   // a scalar is one element along axis 0
        let axis = try normalizedAxis(self.axis, rank: x.rank)
        let out = try workspace.allocate(.float, x.shape)
        if out.count == 0 { return [out] }   // [2^30, 0, 2^29] must not loop 2^59 times over nothing
        let (outer, length, inner): (Int, Int, Int) = flattensTrailingAxes
            ? (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1)
            : (x.shape[..<axis].reduce(1, *), x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
        let px = x.pointer(as: Float.self), py = out.pointer(as: Float.self)
        if inner == 1 && !logarithm {
            // The usual case (the last axis): each row contiguous, so the whole of it runs vectorised.
            ds_softmax_rows(px, py, outer, length)
            return [out.reshaped(given.shape)]
        }
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var maximum = -Float.infinity
                for j in 0..<length { maximum = max(maximum, px[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<length {
                    let e = expf(px[base + j * inner] - maximum)
                    py[base + j * inner] = e
                    sum += e
                }
                if logarithm {
                    let logSum = logf(sum)
                    for j in 0..<length { py[base + j * inner] = px[base + j * inner] - maximum - logSum }
                } else {
                    let inverse = 1 / sum
                    for j in 0..<length { py[base + j * inner] *= inverse }
                }
            }
        }
        return [out.reshaped(given.shape)]
    }
}
