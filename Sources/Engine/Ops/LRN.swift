#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LRN (local response normalisation across channels) on [N, C, D…]:
/// `y = x / (bias + alpha / size · Σ x²)^beta`, the sum over the `size` channels around each one.
struct LRN: Operator {
    let size: Int
    let alpha: Float, beta: Float, bias: Float

    init(_ context: NodeContext) throws {
        guard let size = try context.attributes.int("size") else { throw context.invalid("size", "is required") }
        guard size >= 1 else { throw context.invalid("size", "must be positive, is \(size)") }
        self.size = size
        alpha = try context.attributes.float("alpha", default: 0.0001)
        beta = try context.attributes.float("beta", default: 0.75)
        bias = try context.attributes.float("bias", default: 1)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "X")
        guard x.rank >= 3 else { throw KernelError("input must be [N, C, D…], is \(x.shape)") }
        let out = try workspace.allocate(.float, x.shape)
        if out.count == 0 { return [out] }
        let channels = x.shape[1], spatial = x.shape[2...].reduce(1, *)
        let before = (size - 1) / 2, after = size - 1 - before   // floor and ceil of (size - 1) / 2
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self)
        let scale = Double(alpha) / Double(size)
        for n in 0..<x.shape[0] {
            for c in 0..<channels {
                try workspace.checkpoint()
                let low = max(0, c - before), high = min(channels - 1, c + min(after, channels))
                for p in 0..<spatial {
                    var sum = 0.0
                    for j in low...high {
                        let v = Double(src[(n * channels + j) * spatial + p])
                        sum += v * v
                    }
                    let index = (n * channels + c) * spatial + p
                    dst[index] = Float(Double(src[index]) / pow(Double(bias) + scale * sum, Double(beta)))
                }
            }
        }
        return [out]
    }
}
