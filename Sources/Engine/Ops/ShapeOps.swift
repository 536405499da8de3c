/// Operators that only reshape, describe or pass through data. Reshape-like ones return views
/// that share the input's storage.

/// Reads a 1-d int64 (or int32) tensor of indices or sizes.
func indexList(_ tensor: Tensor, role: String) throws -> [Int] {
    try tensor.expect(.int64, .int32, role: role)
    guard tensor.rank <= 1 else { throw KernelError("\(role) must be 1-d, got \(tensor.shape)") }
    return tensor.int64Array().map { Int(clamping: $0) }
}

struct Reshape: Operator {
    let allowZero: Bool
    let attributeShape: [Int]?

    init(_ context: NodeContext) throws {
        allowZero = try context.attributes.flag("allowzero", default: false)
        attributeShape = context.opset < 5 ? try context.attributes.ints("shape") : nil
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let requested = try attributeShape ?? indexList(try inputs.required(1), role: "shape")
        return [x.reshaped(try Self.resolve(requested, input: x.shape, allowZero: allowZero))]
    }

    /// Applies ONNX's rules: 0 copies the input's dimension (unless allowzero), one -1 is inferred.
    static func resolve(_ requested: [Int], input: [Int], allowZero: Bool) throws -> [Int] {
        var shape = requested
        var inferred: Int?
        for (axis, dim) in requested.enumerated() {
            if dim == 0 && !allowZero {
                guard axis < input.count else { throw KernelError("shape \(requested) copies dimension \(axis) that \(input) lacks") }
                shape[axis] = input[axis]
            } else if dim == -1 {
                guard inferred == nil else { throw KernelError("shape \(requested) has more than one -1") }
                inferred = axis
            } else if dim < 0 {
                throw KernelError("shape \(requested) has a negative dimension")
            }
        }
        let count = input.reduce(1, *)
        if let inferred {
            let known = try checkedElementCount(shape.enumerated().filter { $0.offset != inferred }.map(\.element))
            guard known > 0, count % known == 0 else { throw KernelError("cannot reshape \(input) to \(requested)") }
            shape[inferred] = count / known
        }
        guard try checkedElementCount(shape) == count else { throw KernelError("cannot reshape \(input) (\(count) elements) to \(requested)") }
        return shape
    }
}

struct Flatten: Operator {
    let axis: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let axis = self.axis < 0 ? self.axis + x.rank : self.axis
        guard axis >= 0, axis <= x.rank else { throw KernelError("axis \(self.axis) is out of range for rank \(x.rank)") }
        return [x.reshaped([x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *)])]
    }
}

struct Squeeze: Operator {
    let attributeAxes: [Int]?

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let given = try attributeAxes ?? inputs.optional(1).map { try indexList($0, role: "axes") }
        guard let given else { return [x.reshaped(x.shape.filter { $0 != 1 })] }
        let axes = Set(try given.map { try normalizedAxis($0, rank: x.rank) })
        for axis in axes where x.shape[axis] != 1 {
            throw KernelError("cannot squeeze axis \(axis) of \(x.shape): its size is not 1")
        }
        return [x.reshaped(x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))]
    }
}

struct Unsqueeze: Operator {
    let attributeAxes: [Int]?

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let given = try attributeAxes ?? indexList(try inputs.required(1), role: "axes")
        let rank = x.rank + given.count
        let axes = try given.map { try normalizedAxis($0, rank: rank) }
        guard Set(axes).count == axes.count else { throw KernelError("axes \(given) repeat an axis") }
        var shape: [Int] = []
        var source = x.shape.makeIterator()
        for axis in 0..<rank { shape.append(axes.contains(axis) ? 1 : source.next()!) }
        return [x.reshaped(shape)]
    }
}

struct ShapeOf: Operator {
    let start: Int
    let end: Int?

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let shape = try inputs.required(0).shape
        func clamp(_ value: Int) -> Int { min(max(value < 0 ? value + shape.count : value, 0), shape.count) }
        let (from, to) = (clamp(start), clamp(end ?? shape.count))
        let dims = from < to ? shape[from..<to].map { Int64($0) } : []
        return [Tensor(shape: [dims.count], int64s: dims)]
    }
}

struct Size: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        [Tensor(shape: [], int64s: [Int64(try inputs.required(0).count)])]
    }
}

/// Identity, and Dropout at inference time (the input unchanged, with an all-true mask if asked).
struct Identity: Operator {
    let outputCount: Int

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        if let training = inputs.optional(2), training.count == 1, training.element(at: 0) != 0,
           let ratio = inputs.optional(1), ratio.count == 1, ratio.element(at: 0) != 0
        {
            throw KernelError("Dropout in training mode is random; the engine runs inference only")
        }
        guard outputCount > 1 else { return [x] }
        let mask = try workspace.allocate(.bool, x.shape)
        mask.storage.bytes.initializeMemory(as: UInt8.self, repeating: 1, count: x.count)
        return [x, mask]
    }
}

/// Constant: the value parsed once at load.
struct Constant: Operator {
    let value: Tensor

    init(_ context: NodeContext) throws {
        let a = context.attributes
        if let tensor = try a.tensor("value", modelDirectory: context.modelDirectory) {
            value = tensor
        } else if let float = try a.float("value_float") {
            value = Tensor(scalar: float)
        } else if let floats = try a.floats("value_floats") {
            value = Tensor(shape: [floats.count], floats: floats)
        } else if let int = try a.int("value_int") {
            value = Tensor(shape: [], int64s: [Int64(int)])
        } else if let ints = try a.ints("value_ints") {
            value = Tensor(shape: [ints.count], int64s: ints.map { Int64($0) })
        } else if a.has("value_string") || a.has("value_strings") {
            throw EngineError.unsupportedDataType("string", context: "Constant node '\(context.name)'")
        } else if a.isSparseTensor("sparse_value") {
            throw EngineError.unsupportedDataType("sparse tensor", context: "Constant node '\(context.name)'")
        } else {
            throw context.invalid("value", "is required (or one of value_float(s), value_int(s))")
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] { [value] }
}

struct ConstantOfShape: Operator {
    let value: Tensor

    init(_ context: NodeContext) throws {
        let given = try context.attributes.tensor("value", modelDirectory: context.modelDirectory)
        if let given, given.count != 1 { throw context.invalid("value", "must hold one element, holds \(given.count)") }
        value = given ?? Tensor(scalar: 0)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let shape = try indexList(try inputs.required(0), role: "shape")
        guard shape.allSatisfy({ $0 >= 0 }) else { throw KernelError("shape \(shape) has a negative dimension") }
        let out = try workspace.allocate(value.dataType, shape)
        fill(out, with: value)
        return [out]
    }
}

/// Fills every element of `tensor` with the single element of `value` (same type).
func fill(_ tensor: Tensor, with value: Tensor) {
    let size = tensor.dataType.size
    for i in 0..<tensor.count {
        (tensor.storage.bytes + i * size).copyMemory(from: value.storage.bytes, byteCount: size)
    }
}

/// Expand: broadcast the input to a shape (both ways, as numpy).
struct Expand: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let requested = try indexList(try inputs.required(1), role: "shape")
        let shape = try Broadcast.shape([x.shape, requested])
        return [try broadcastCopy(x, to: shape, workspace)]
    }
}

/// A contiguous copy of `x` broadcast to `shape` (which must be a broadcast of x's shape).
func broadcastCopy(_ x: Tensor, to shape: [Int], _ workspace: Workspace) throws -> Tensor {
    let out = try workspace.allocate(x.dataType, shape)
    let size = x.dataType.size
    let src = x.storage.bytes, dst = out.storage.bytes
    Broadcast.forEachRun(outShape: shape, inputShapes: [x.shape]) { o, offsets, strides, count in
        if strides[0] == 1 {
            (dst + o * size).copyMemory(from: src + offsets[0] * size, byteCount: count * size)
        } else {
            for i in 0..<count { (dst + (o + i) * size).copyMemory(from: src + (offsets[0] + i * strides[0]) * size, byteCount: size) }
        }
    }
    return out
}

/// Range(start, limit, delta) for float, double, int32 and int64 scalars.
struct ArithmeticRange: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let start = try inputs.required(0), limit = try inputs.required(1), delta = try inputs.required(2)
        let count = try Self.count(start: start, limit: limit, delta: delta)
        let s = start.int64OrDouble(at: 0), d = delta.int64OrDouble(at: 0)
        let (si, di) = [.int64, .int32].contains(start.dataType) ? (start.int64Array()[0], delta.int64Array()[0]) : (0, 0)
        let out = try workspace.allocate(start.dataType, [count])
        switch start.dataType {
        case .float:
            let (sf, df) = (start.pointer(as: Float.self)[0], delta.pointer(as: Float.self)[0])
            for i in 0..<count { out.pointer(as: Float.self)[i] = sf + Float(i) * df }
        case .double:
            for i in 0..<count { out.pointer(as: Double.self)[i] = s + Double(i) * d }
        case .int64:
            // Integer ranges wrap rather than trap near the type's limits (the count is exact to 2^28).
            for i in 0..<count { out.pointer(as: Int64.self)[i] = si &+ Int64(i) &* di }
        case .int32:
            for i in 0..<count { out.pointer(as: Int32.self)[i] = Int32(truncatingIfNeeded: si &+ Int64(i) &* di) }
        default:
            throw KernelError("Range does not support \(start.dataType)")
        }
        return [out]
    }

    /// The number of elements, checked: scalars of one type, a nonzero delta, at most 2^28 elements.
    static func count(start: Tensor, limit: Tensor, delta: Tensor) throws -> Int {
        guard start.count == 1, limit.count == 1, delta.count == 1,
              start.dataType == limit.dataType, start.dataType == delta.dataType else {
            throw KernelError("start, limit and delta must be scalars of one type")
        }
        let (s, l, d) = (start.int64OrDouble(at: 0), limit.int64OrDouble(at: 0), delta.int64OrDouble(at: 0))
        let integer = [.int64, .int32].contains(start.dataType)
        let (si, li, di) = integer ? (start.int64Array()[0], limit.int64Array()[0], delta.int64Array()[0]) : (0, 0, 0)
        guard (integer ? di != 0 : d != 0) else { throw KernelError("delta must not be zero") }
        let exactCount = integer ? Self.integerCount(si, li, di) : ((l - s) / d).rounded(.up)
        guard exactCount.isFinite, exactCount <= Double(1 << 28) else { throw KernelError("a range of \(exactCount) elements is too large") }
        return exactCount > 0 ? Int(exactCount) : 0
    }

    /// ⌈(limit − start) / delta⌉, exactly (Double would round differences above 2^53), in magnitudes
    /// so no intermediate overflows: the true difference lies in (−2^64, 2^64).
    private static func integerCount(_ start: Int64, _ limit: Int64, _ delta: Int64) -> Double {
        guard limit != start, (limit > start) == (delta > 0) else { return 0 }
        let distance = limit > start ? UInt64(bitPattern: limit &- start) : UInt64(bitPattern: start &- limit)
        let step = delta.magnitude
        let (quotient, remainder) = distance.quotientAndRemainder(dividingBy: step)
        return Double(remainder == 0 ? quotient : quotient + 1)
    }
}
