/// GroupNormalization on [N, C, D…]: channels split into `num_groups` groups, each normalised by
/// its own mean and variance, then scaled and shifted per channel (opset 21) or per group (opset
/// 18, whose scale and bias have one value per group). Statistics in Double.
struct GroupNormalization: Operator {
    let groups: Int
    let epsilon: Float
    let perGroupAffine: Bool

    init(_ context: NodeContext) throws {
        guard let groups = try context.attributes.int("num_groups") else { throw context.invalid("num_groups", "is required") }
        guard groups >= 1 else { throw context.invalid("num_groups", "must be positive, is \(groups)") }
        self.groups = groups
        epsilon = try context.attributes.float("epsilon", default: 1e-5)
        perGroupAffine = context.opset < 21
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), scale = try inputs.required(1), bias = try inputs.required(2)
        for (tensor, role) in [(x, "X"), (scale, "scale"), (bias, "bias")] { try tensor.expect(.float, role: role) }
        guard x.rank >= 2 else { throw KernelError("input must be [N, C, D…], is \(x.shape)") }
        let channels = x.shape[1]
        guard channels % groups == 0 else { throw KernelError("channels \(channels) do not split into \(groups) groups") }
        let affineCount = perGroupAffine ? groups : channels
        guard scale.count == affineCount, bias.count == affineCount else {
            throw KernelError("scale \(scale.shape) and bias \(bias.shape) must hold \(affineCount) values (one per \(perGroupAffine ? "group" : "channel"))")
        }
        let out = try workspace.allocate(.float, x.shape)
        if out.count == 0 { return [out] }
        let spatial = x.shape[2...].reduce(1, *), perGroup = channels / groups, groupSize = perGroup * spatial
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self)
        let gamma = scale.pointer(as: Float.self), beta = bias.pointer(as: Float.self)
        for n in 0..<x.shape[0] {
            for g in 0..<groups {
                try workspace.checkpoint()
                let base = (n * channels + g * perGroup) * spatial
                var sum = 0.0, squares = 0.0
                for i in 0..<groupSize { sum += Double(src[base + i]) }
                let mean = sum / Double(groupSize)
                for i in 0..<groupSize {
                    let d = Double(src[base + i]) - mean
                    squares += d * d
                }
                let variance = squares / Double(groupSize)
                let inverse = 1 / (variance + Double(epsilon)).squareRoot()
                for c in 0..<perGroup {
                    let affine = perGroupAffine ? g : g * perGroup + c
                    let a = Double(gamma[affine]) * inverse, b = Double(beta[affine]) - mean * a
                    for p in 0..<spatial {
                        let i = base + c * spatial + p
                        dst[i] = Float(Double(src[i]) * a + b)
                    }
                }
            }
        }
        return [out]
    }
}
