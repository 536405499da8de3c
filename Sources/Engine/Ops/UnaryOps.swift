import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Float element-wise functions without parameters worth fusing: Exp, Log, Sqrt, Erf, …
struct UnaryFloat: Operator {
    enum Kind: Sendable {
        case exp, log, sqrt, erf, reciprocal, floor, ceil, round, sin, cos, softsign, softplus, mish
        case tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh
        case elu(alpha: Float), selu(alpha: Float, gamma: Float)
        case gelu(tanhApproximation: Bool)
    }
    let kind: Kind

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "input")
        let out = try workspace.allocate(.float, x.shape)
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self), n = x.count
        func map(_ f: (Float) -> Float) { for i in 0..<n { dst[i] = f(src[i]) } }
        switch kind {
        case .exp: ds_vexp(src, dst, n)
        case .log: map { logf($0) }
        case .sqrt: map { sqrtf($0) }
        case .erf: ds_verf(src, dst, n)
        case .reciprocal: map { 1 / $0 }
        case .floor: map { $0.rounded(.down) }
        case .ceil: map { $0.rounded(.up) }
        case .round: map { $0.rounded(.toNearestOrEven) }
        case .sin: map { sinf($0) }
        case .cos: map { cosf($0) }
        case .tan: map { tanf($0) }
        case .asin: map { asinf($0) }
        case .acos: map { acosf($0) }
        case .atan: map { atanf($0) }
        case .sinh: map { sinhf($0) }
        case .cosh: map { coshf($0) }
        case .asinh: map { asinhf($0) }
        case .acosh: map { acoshf($0) }
        case .atanh: map { atanhf($0) }
        case .softsign: map { $0 / (1 + abs($0)) }
        case .softplus: map { $0 > 20 ? $0 : log1pf(expf($0)) }
        case .mish: map { $0 * tanhf($0 > 20 ? $0 : log1pf(expf($0))) }
        case .elu(let alpha): map { $0 >= 0 ? $0 : alpha * (expf($0) - 1) }
        case .selu(let alpha, let gamma): map { $0 > 0 ? gamma * $0 : gamma * (alpha * expf($0) - alpha) }
        case .gelu(let approximate):
            if approximate {
                map { 0.5 * $0 * (1 + tanhf(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0))) }
            } else {
                map { 0.5 * $0 * (1 + erff($0 * 0.7071067811865476)) }
            }
        }
        return [out]
    }
}

/// Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish and Clip: activations the compiler can
/// fuse into Conv/Gemm (and SiLU, which only the graph rewrites create).
struct ActivationOp: ActivationOperator {
    let activation: Activation
    var fusableActivation: Activation? { activation }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "input")
        let out = try copy(x, workspace)
        activation.apply(out.floats)
        return [out]
    }
}

/// Clip: fusable when its bounds are known at load and the input is float; otherwise bounds are
/// read at run time, on any numeric type.
struct Clip: ActivationOperator {
    /// Bounds known at load (attributes before opset 11, constant inputs after).
    let constantBounds: (min: Float, max: Float)?

    init(_ context: NodeContext) throws {
        if context.opset < 11 {
            constantBounds = (try context.attributes.float("min", default: -.infinity), try context.attributes.float("max", default: .infinity))
            return
        }
        let low = context.constantInputs.count > 1 ? context.constantInputs[1] : nil
        let high = context.constantInputs.count > 2 ? context.constantInputs[2] : nil
        let lowKnown = context.inputCount < 2 || low != nil, highKnown = context.inputCount < 3 || high != nil
        if lowKnown, highKnown, low?.dataType ?? .float == .float, high?.dataType ?? .float == .float,
           low?.count ?? 1 == 1, high?.count ?? 1 == 1 {
            constantBounds = (low?.element(at: 0) ?? -.infinity, high?.element(at: 0) ?? .infinity)
        } else {
            constantBounds = nil
        }
    }

    var fusableActivation: Activation? { constantBounds.map { .clip(min: $0.min, max: $0.max) } }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        if let constantBounds, x.dataType == .float {
            let out = try copy(x, workspace)
            Activation.clip(min: constantBounds.min, max: constantBounds.max).apply(out.floats)
            return [out]
        }
        let low = inputs.optional(1), high = inputs.optional(2)
        for bound in [low, high].compactMap({ $0 }) where bound.count != 1 || bound.dataType != x.dataType {
            throw KernelError("min and max must be scalars of the input's type \(x.dataType)")
        }
        let out = try workspace.allocate(x.dataType, x.shape)
        try dispatchNumeric(x.dataType, Visitor(x: x, low: low, high: high, out: out))
        return [out]
    }

    private struct Visitor: NumericVisitor {
        let x: Tensor, low: Tensor?, high: Tensor?, out: Tensor
        func visit<T: NumericElement>(_ type: T.Type) throws {
            let lo = low.map { $0.pointer(as: T.self)[0] }, hi = high.map { $0.pointer(as: T.self)[0] }
            let src = x.pointer(as: T.self), dst = out.pointer(as: T.self)
            for i in 0..<x.count {
                var v = src[i]
                if let lo, v < lo { v = lo }
                if let hi, v > hi { v = hi }
                dst[i] = v
            }
        }
    }
}

/// Neg, Abs and Sign on any numeric type.
struct SignedUnary: Operator {
    enum Kind: Sendable { case neg, abs, sign }
    let kind: Kind

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let out = try workspace.allocate(x.dataType, x.shape)
        try dispatchNumeric(x.dataType, Visitor(kind: kind, x: x, out: out))
        return [out]
    }

    private struct Visitor: NumericVisitor {
        let kind: Kind, x: Tensor, out: Tensor
        func visit<T: NumericElement>(_ type: T.Type) throws {
            let src = x.pointer(as: T.self), dst = out.pointer(as: T.self)
            for i in 0..<x.count {
                let v = src[i]
                switch kind {
                // Integers wrap: Neg and Abs of the most negative value are that value, as in C.
                case .neg: dst[i] = T.negate(v)
                case .abs: dst[i] = v < T.zero ? T.negate(v) : v
                case .sign: dst[i] = v > T.zero ? 1 : (v < T.zero ? T.negate(1) : T.zero)
                }
            }
        }
    }
}

/// Not on bool tensors.
struct LogicalNot: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.bool, role: "input")
        let out = try workspace.allocate(.bool, x.shape)
        let src = x.pointer(as: UInt8.self), dst = out.pointer(as: UInt8.self)
        for i in 0..<x.count { dst[i] = src[i] == 0 ? 1 : 0 }
        return [out]
    }
}

/// PRelu: x where x ≥ 0, slope · x elsewhere, with the slope broadcast against x.
struct PRelu: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), slope = try inputs.required(1)
        try x.expect(.float, role: "X")
        try slope.expect(.float, role: "slope")
        let out = try workspace.allocate(.float, try Broadcast.shape([x.shape, slope.shape]))
        binaryLoop(x, slope, out, Float.self) { $0 >= 0 ? $0 : $0 * $1 }
        return [out]
    }
}

/// Cast to another element type.
struct Cast: Operator {
    let to: DataType
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        [try convert(try inputs.required(0), to: to, workspace)]
    }
}

/// CastLike: Cast to the element type of the second input.
struct CastLike: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        [try convert(try inputs.required(0), to: try inputs.required(1).dataType, workspace)]
    }
}

/// Converts element types: integers to integers wrap, floats to integers truncate toward zero
/// (saturating, NaN → 0), anything to bool is `!= 0`.
func convert(_ tensor: Tensor, to target: DataType, _ workspace: Workspace) throws -> Tensor {
    if tensor.dataType == target { return tensor }
    let out = try workspace.allocate(target, tensor.shape)
    if target == .bool {
        let dst = out.pointer(as: UInt8.self)
        for i in 0..<tensor.count { dst[i] = tensor.element(at: i) != 0 ? 1 : 0 }
        return out
    }
    let source = tensor.dataType == .bool ? tensor.reinterpreted(as: .uint8) : tensor
    try dispatchNumeric(source.dataType, SourceVisitor(source: source, out: out))
    return out
}

private struct SourceVisitor: NumericVisitor {
    let source: Tensor, out: Tensor
    func visit<S: NumericElement>(_ type: S.Type) throws {
        try dispatchNumeric(out.dataType, TargetVisitor<S>(source: source, out: out))
    }
}

private struct TargetVisitor<S: NumericElement>: NumericVisitor {
    let source: Tensor, out: Tensor
    func visit<T: NumericElement>(_ type: T.Type) throws {
        let src = source.pointer(as: S.self), dst = out.pointer(as: T.self)
        let n = source.count
        if S.isInteger && T.isInteger {
            // Integer to integer wraps like C, exactly (going through Double would round 64-bit values).
            for i in 0..<n { dst[i] = T(wrappingBits: src[i].wrappingBits) }
        } else {
            for i in 0..<n { dst[i] = T(converting: src[i].doubleValue) }
        }
    }
}

extension Tensor {
    /// The same bytes viewed as another element type of the same size.
    func reinterpreted(as dataType: DataType) -> Tensor {
        precondition(dataType.size == self.dataType.size)
        return Tensor(dataType: dataType, shape: shape, storage: storage)
    }
}
