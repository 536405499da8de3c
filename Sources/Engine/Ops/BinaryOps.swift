import CKernels

/// Element-wise arithmetic with broadcasting: Add, Sub, Mul, Div, Pow, Mod, and the variadic
/// Max, Min, Sum and Mean.
struct BinaryArithmetic: ActivationFusing {
    enum Kind: Sendable {
        case add, sub, mul, div, pow, max, min, mod(fmod: Bool)

        /// The C loop for this kind on floats, if it has one.
        var vectorised: ds_binary_op? {
            switch self {
            case .add: DS_BINARY_ADD
            case .sub: DS_BINARY_SUB
            case .mul: DS_BINARY_MUL
            case .div: DS_BINARY_DIV
            case .max: DS_BINARY_MAX
            case .min: DS_BINARY_MIN
            case .pow, .mod: nil
            }
        }

        /// Div and Mod, whose integer forms refuse a zero divisor.
        var divides: Bool {
            switch self {
            case .div, .mod: true
            default: false
            }
        }
    }
    let kind: Kind
    /// An activation applied to each stretch of the result while it is still in cache (the Relu after a
    /// pre-activation BatchNorm's Mul in DenseNet, after a residual Add the Conv could not absorb): one pass over
    /// memory instead of two. Activations run on floats only, as the standalone operators do.
    var activation: Activation?

    init(kind: Kind, activation: Activation? = nil) {
        self.kind = kind
        self.activation = activation
    }

    func fused(with activation: Activation) -> any Operator { BinaryArithmetic(kind: kind, activation: activation) }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        var a = try inputs.required(0)
        var b = try inputs.required(1)
        if case .pow = kind, a.dataType != b.dataType {
            b = try convert(b, to: a.dataType, workspace)   // Pow allows an exponent of another type
        }
        guard a.dataType == b.dataType else {
            throw KernelError("inputs have different element types: \(a.dataType) and \(b.dataType)")
        }
        if a.dataType == .bool { a = try convert(a, to: .uint8, workspace); b = try convert(b, to: .uint8, workspace) }
        if activation != nil, a.dataType != .float {
            throw KernelError("input of the fused \(activation!.name) must be float, got \(a.dataType)")
        }
        return [try Self.apply(kind, a, b, workspace, activation: activation)]
    }

    static func apply(_ kind: Kind, _ a: Tensor, _ b: Tensor, _ workspace: Workspace,
                      activation: Activation? = nil) throws -> Tensor {
        let shape = try Broadcast.shape([a.shape, b.shape])
        let out = try workspace.allocate(a.dataType, shape)
        var finish = FinishingActivation(activation, out)
        if a.dataType == .float, let op = kind.vectorised {
            floatLoop(op, a, b, out, &finish)
        } else {
            try dispatchNumeric(a.dataType, Visitor(kind: kind, a: a, b: b, out: out))
            finish.apply(through: out.count)
        }
        return out
    }

    /// Applies a fused activation to the output in order, a stretch at a time once enough of it is written, so each
    /// stretch is still in L1/L2 when the activation reads it back.
    private struct FinishingActivation {
        private let descriptor: ds_activation?
        private let output: UnsafeMutablePointer<Float>?
        private var done = 0
        private static let stretch = 4096

        init(_ activation: Activation?, _ out: Tensor) {
            descriptor = activation?.kernelDescriptor
            output = activation == nil ? nil : out.pointer(as: Float.self)
        }

        /// The output is final up to element `end` (exclusive). Stretches end on multiples of 8 so that only the
        /// output's last few elements take the kernels' scalar tail, as in one call over the whole output: the bits
        /// stay those of the unfused plan.
        mutating func written(through end: Int) {
            if descriptor != nil, end - done >= Self.stretch { apply(through: done + (end - done) / 8 * 8) }
        }

        mutating func apply(through end: Int) {
            guard let descriptor, let output, end > done else { return }
            ds_activation_apply(output + done, end - done, descriptor)
            done = end
        }
    }

    /// Float runs through the vectorised C loop (CKernels/elementwise.c); strides other than 0 and
    /// 1 (a transposed broadcast, rare) one element at a time.
    private static func floatLoop(_ op: ds_binary_op, _ a: Tensor, _ b: Tensor, _ out: Tensor, _ finish: inout FinishingActivation) {
        let pa = a.pointer(as: Float.self), pb = b.pointer(as: Float.self), po = out.pointer(as: Float.self)
        defer { finish.apply(through: out.count) }
        if a.shape == b.shape {
            for start in stride(from: 0, to: out.count, by: 8192) {
                let n = min(8192, out.count - start)
                ds_binary_f32(op, pa + start, 1, pb + start, 1, po + start, n)
                finish.written(through: start + n)
            }
            return
        }
        if let period = Self.shortPeriod(of: b.shape, against: a.shape, out: out.shape) {
            periodicLoop(op, pa, pb, period: period, po, count: out.count, periodicSecond: true, &finish)
            return
        }
        if let period = Self.shortPeriod(of: a.shape, against: b.shape, out: out.shape) {
            periodicLoop(op, pb, pa, period: period, po, count: out.count, periodicSecond: false, &finish)
            return
        }
        Broadcast.forEachRun(outShape: out.shape, inputShapes: [a.shape, b.shape]) { o, offsets, strides, count in
            let x = pa + offsets[0], y = pb + offsets[1], z = po + o
            if strides[0] <= 1, strides[1] <= 1 {
                ds_binary_f32(op, x, Int32(strides[0]), y, Int32(strides[1]), z, count)
            } else {
                for i in 0..<count { ds_binary_f32(op, x + i * strides[0], 0, y + i * strides[1], 0, z + i, 1) }
            }
            finish.written(through: o + count)   // runs cover the output in order
        }
    }

    /// When `small` repeats along all but its trailing axes against `full` (an NHWC tensor and a per-channel
    /// [1, 1, 1, C] vector), the length of the pattern, if short: the broadcast runs would be C elements each.
    private static func shortPeriod(of small: [Int], against full: [Int], out: [Int]) -> Int? {
        guard full == out, small.count <= out.count else { return nil }
        let aligned = Array(repeating: 1, count: out.count - small.count) + small
        var first = out.count
        while first > 0, aligned[first - 1] == out[first - 1] { first -= 1 }
        guard aligned[..<first].allSatisfy({ $0 == 1 }) else { return nil }
        let period = out[first...].reduce(1, *)
        return period > 0 && period < 64 && first > 0 ? period : nil
    }

    /// out = full ⊙ pattern (or pattern ⊙ full) with the pattern repeated: the pattern is tiled once into a few
    /// hundred floats so the vector loop runs long stretches instead of one call per period.
    private static func periodicLoop(_ op: ds_binary_op, _ full: UnsafeMutablePointer<Float>, _ pattern: UnsafeMutablePointer<Float>,
                                     period: Int, _ out: UnsafeMutablePointer<Float>, count: Int, periodicSecond: Bool,
                                     _ finish: inout FinishingActivation) {
        let stretch = period * max(1, 512 / max(period, 1))
        let tiled = (0..<stretch).map { pattern[$0 % period] }
        tiled.withUnsafeBufferPointer { tile in
            for start in stride(from: 0, to: count, by: stretch) {
                let n = min(stretch, count - start)
                if periodicSecond {
                    ds_binary_f32(op, full + start, 1, tile.baseAddress, 1, out + start, n)
                } else {
                    ds_binary_f32(op, tile.baseAddress, 1, full + start, 1, out + start, n)
                }
                finish.written(through: start + n)
            }
        }
    }

    private struct Visitor: NumericVisitor {
        let kind: Kind, a: Tensor, b: Tensor, out: Tensor

        func visit<T: NumericElement>(_ type: T.Type) throws {
            // With a non-empty output every divisor is used at least once, so any zero is a real division by zero.
            if T.isInteger, kind.divides, out.count > 0, UnsafePointer(b.pointer(as: T.self)).containsZero(count: b.count) {
                throw RunInterruption.divisionByZero
            }
            switch kind {
            case .add: binaryLoop(a, b, out, T.self) { T.add($0, $1) }
            case .sub: binaryLoop(a, b, out, T.self) { T.subtract($0, $1) }
            case .mul: binaryLoop(a, b, out, T.self) { T.multiply($0, $1) }
            case .div: binaryLoop(a, b, out, T.self) { T.divide($0, $1) }
            case .pow: binaryLoop(a, b, out, T.self) { T.power($0, $1) }
            // NaN propagates, as in numpy's maximum/minimum.
            case .max: binaryLoop(a, b, out, T.self) { $0 != $0 ? $0 : ($1 != $1 ? $1 : Swift.max($0, $1)) }
            case .min: binaryLoop(a, b, out, T.self) { $0 != $0 ? $0 : ($1 != $1 ? $1 : Swift.min($0, $1)) }
            case .mod(let fmod): binaryLoop(a, b, out, T.self) { T.modulo($0, $1, fmod: fmod) }
            }
        }
    }
}

/// Max, Min, Sum and Mean over any number of inputs, broadcasting pairwise.
struct VariadicArithmetic: Operator {
    enum Kind: Sendable { case max, min, sum, mean }
    let kind: Kind

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let tensors = inputs.compactMap { $0 }
        guard var result = tensors.first else { throw KernelError("needs at least one input") }
        let pairwise: BinaryArithmetic.Kind = switch kind {
        case .max: .max
        case .min: .min
        case .sum, .mean: .add
        }
        for next in tensors.dropFirst() {
            guard next.dataType == result.dataType else {
                throw KernelError("inputs have different element types: \(result.dataType) and \(next.dataType)")
            }
            result = try BinaryArithmetic.apply(pairwise, result, next, workspace)
        }
        if kind == .mean {
            let divisor = Tensor(shape: [], copying: [Float(tensors.count)], as: .float)
            result = try BinaryArithmetic.apply(.div, result, try convert(divisor, to: result.dataType, workspace), workspace)
        } else if tensors.count == 1 {
            result = try copy(result, workspace)
        }
        return [result]
    }
}

/// Equal, Less, LessOrEqual, Greater, GreaterOrEqual → bool.
struct Comparison: Operator {
    enum Kind: Sendable { case equal, less, lessOrEqual, greater, greaterOrEqual }
    let kind: Kind

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        var a = try inputs.required(0)
        var b = try inputs.required(1)
        guard a.dataType == b.dataType else {
            throw KernelError("inputs have different element types: \(a.dataType) and \(b.dataType)")
        }
        if a.dataType == .bool { a = try convert(a, to: .uint8, workspace); b = try convert(b, to: .uint8, workspace) }
        let out = try workspace.allocate(.bool, try Broadcast.shape([a.shape, b.shape]))
        try dispatchNumeric(a.dataType, Visitor(kind: kind, a: a, b: b, out: out))
        return [out]
    }

    private struct Visitor: NumericVisitor {
        let kind: Kind, a: Tensor, b: Tensor, out: Tensor

        func visit<T: NumericElement>(_ type: T.Type) throws {
            switch kind {
            case .equal: compareLoop(a, b, out, T.self) { $0 == $1 }
            case .less: compareLoop(a, b, out, T.self) { $0 < $1 }
            case .lessOrEqual: compareLoop(a, b, out, T.self) { $0 <= $1 }
            case .greater: compareLoop(a, b, out, T.self) { $0 > $1 }
            case .greaterOrEqual: compareLoop(a, b, out, T.self) { $0 >= $1 }
            }
        }
    }
}

/// And, Or, Xor on bool tensors.
struct LogicalBinary: Operator {
    enum Kind: Sendable { case and, or, xor }
    let kind: Kind

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let a = try inputs.required(0), b = try inputs.required(1)
        try a.expect(.bool, role: "input A")
        try b.expect(.bool, role: "input B")
        let out = try workspace.allocate(.bool, try Broadcast.shape([a.shape, b.shape]))
        switch kind {
        case .and: binaryLoop(a, b, out, UInt8.self) { $0 & $1 }
        case .or: binaryLoop(a, b, out, UInt8.self) { $0 | $1 }
        case .xor: binaryLoop(a, b, out, UInt8.self) { $0 ^ $1 }
        }
        return [out]
    }
}

/// Where(condition, X, Y): X where the condition holds, else Y, all three broadcast.
struct Where: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let condition = try inputs.required(0), x = try inputs.required(1), y = try inputs.required(2)
        try condition.expect(.bool, role: "condition")
        guard x.dataType == y.dataType else { throw KernelError("X is \(x.dataType) but Y is \(y.dataType)") }
        let shape = try Broadcast.shape([condition.shape, x.shape, y.shape])
        let out = try workspace.allocate(x.dataType, shape)
        let size = x.dataType.size
        let c = condition.pointer(as: UInt8.self)
        let (px, py, po) = (x.storage.bytes, y.storage.bytes, out.storage.bytes)
        Broadcast.forEachRun(outShape: shape, inputShapes: [condition.shape, x.shape, y.shape]) { o, offsets, strides, count in
            for i in 0..<count {
                let useX = c[offsets[0] + i * strides[0]] != 0
                let source = useX ? px + (offsets[1] + i * strides[1]) * size : py + (offsets[2] + i * strides[2]) * size
                (po + (o + i) * size).copyMemory(from: source, byteCount: size)
            }
        }
        return [out]
    }
}

// MARK: - Loops

/// out = f(a, b) with broadcasting; the common stride patterns get their own loops so they vectorise.
@inline(__always)
func binaryLoop<T, R>(_ a: Tensor, _ b: Tensor, _ out: Tensor, _ type: T.Type, _ f: (T, T) -> R) {
    let pa = a.pointer(as: T.self), pb = b.pointer(as: T.self), po = out.pointer(as: R.self)
    if a.shape == b.shape {
        for i in 0..<out.count { po[i] = f(pa[i], pb[i]) }
        return
    }
    Broadcast.forEachRun(outShape: out.shape, inputShapes: [a.shape, b.shape]) { o, offsets, strides, count in
        let x = pa + offsets[0], y = pb + offsets[1], z = po + o
        switch (strides[0], strides[1]) {
        case (1, 1): for i in 0..<count { z[i] = f(x[i], y[i]) }
        case (1, 0): let v = y[0]; for i in 0..<count { z[i] = f(x[i], v) }
        case (0, 1): let v = x[0]; for i in 0..<count { z[i] = f(v, y[i]) }
        default: for i in 0..<count { z[i] = f(x[i * strides[0]], y[i * strides[1]]) }
        }
    }
}

@inline(__always)
func compareLoop<T>(_ a: Tensor, _ b: Tensor, _ out: Tensor, _ type: T.Type, _ f: (T, T) -> Bool) {
    binaryLoop(a, b, out, T.self) { f($0, $1) ? UInt8(1) : UInt8(0) }
}

/// A contiguous copy of a tensor in fresh workspace memory.
func copy(_ tensor: Tensor, _ workspace: Workspace) throws -> Tensor {
    let out = try workspace.allocate(tensor.dataType, tensor.shape)
    out.storage.bytes.copyMemory(from: tensor.storage.bytes, byteCount: tensor.byteCount)
    return out
}
