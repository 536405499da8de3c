import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a scale or zero point maps onto the elements of the tensor it quantizes: one value for the
/// whole tensor, one per index along `axis`, or (opset 21) one per block of `blockSize` indices
/// along `axis` (the parameter then has the data's shape with that axis divided, rounding up).
struct QuantizationLayout {
    let outer: Int, axisLength: Int, inner: Int
    private enum Mode { case perTensor, perAxis, blocked(Int) }
    private let mode: Mode

    /// - Parameters:
    ///   - data: the quantized (or to-be-quantized) tensor's shape.
    ///   - parameter: the scale's shape; a zero point must have the same one (`check`).
    init(data: [Int], parameter: [Int], axis: Int, blockSize: Int) throws {
        let count = Tensor.elementCount(parameter)
        if blockSize == 0 && (parameter.isEmpty || (parameter.count == 1 && count == 1)) {
            (outer, axisLength, inner, mode) = (1, Tensor.elementCount(data), 1, .perTensor)
            return
        }
        let a = try normalizedAxis(axis, rank: data.count)
        let length = data[a]
        if blockSize == 0 {
            guard parameter.count == 1, count == length else {
                throw KernelError("scale \(parameter) must be a scalar or have \(length) values (axis \(axis) of \(data))")
            }
            mode = .perAxis
        } else {
            guard blockSize > 0 else { throw KernelError("block_size \(blockSize) must be positive") }
            var expected = data
            expected[a] = length == 0 ? 0 : (length - 1) / blockSize + 1
            guard parameter == expected else {
                throw KernelError("scale \(parameter) must have shape \(expected) for blocks of \(blockSize) along axis \(axis) of \(data)")
            }
            mode = .blocked(blockSize)
        }
        // An empty tensor may have huge other dimensions whose product overflows: visit nothing.
        guard Tensor.elementCount(data) > 0 else {
            (outer, axisLength, inner) = (0, 0, 0)
            return
        }
        outer = data[..<a].reduce(1, *)
        axisLength = length
        inner = data[(a + 1)...].reduce(1, *)
    }

    /// Throws unless a zero point's shape fits this layout as the scale's does.
    static func check(zeroPoint: Tensor?, scale: Tensor) throws {
        guard let zeroPoint else { return }
        guard zeroPoint.shape == scale.shape || (zeroPoint.count == 1 && scale.count == 1) else {
            throw KernelError("zero point \(zeroPoint.shape) must have the scale's shape \(scale.shape)")
        }
    }

    /// Calls `body(element, parameter)` for every element's flat index and its parameter's index.
    @inline(__always)
    func forEach(_ body: (Int, Int) -> Void) {
        switch mode {
        case .perTensor:
            for i in 0..<axisLength { body(i, 0) }
        case .perAxis:
            var i = 0
            for _ in 0..<outer {
                for a in 0..<axisLength {
                    for _ in 0..<inner { body(i, a); i += 1 }
                }
            }
        case .blocked(let size):
            let blocks = axisLength == 0 ? 0 : (axisLength - 1) / size + 1   // no overflow for a huge block size
            var i = 0
            for o in 0..<outer {
                for a in 0..<axisLength {
                    let row = (o * blocks + a / size) * inner
                    for j in 0..<inner { body(i, row + j); i += 1 }
                }
            }
        }
    }
}

/// The integer element types a quantized tensor may have here (ONNX also allows float8 and 2/4-bit
/// formats, which are not engine element types).
enum QuantizedElement {
    static let types: [DataType] = [.uint8, .int8, .uint16, .int16]

    /// Element `i` of an integer tensor widened to Int64 (the element type switch is predicted in loops).
    @inline(__always)
    static func value(_ tensor: Tensor, _ i: Int) -> Int64 { tensor.int64Element(at: i) }

    /// Writes `value(i)` saturated to the element type into every element of `out`.
    static func store(into out: Tensor, _ value: (Int) -> Int64) throws {
        switch out.dataType {
        case .uint8: fill(out.mutableBuffer(of: UInt8.self), value)
        case .int8: fill(out.mutableBuffer(of: Int8.self), value)
        case .uint16: fill(out.mutableBuffer(of: UInt16.self), value)
        case .int16: fill(out.mutableBuffer(of: Int16.self), value)
        case .int32: fill(out.mutableBuffer(of: Int32.self), value)
        default: throw KernelError("\(out.dataType) is not a quantized type")
        }
    }

    @inline(__always)
    private static func fill<T: FixedWidthInteger>(_ buffer: UnsafeMutableBufferPointer<T>, _ value: (Int) -> Int64) {
        for i in buffer.indices { buffer[i] = T(clamping: value(i)) }
    }
}

extension Int64 {
    /// `value` rounded half to even and saturated (NaN → 0): the `rint` + clip of the reference.
    init(roundingSaturated value: Double) {
        self.init(converting: value.rounded(.toNearestOrEven))
    }
}

/// QuantizeLinear (opsets 10–21): y = saturate(round_half_even(x / scale) + zero_point), per
/// tensor, per axis or per block; the zero point's type (else `output_dtype`, else uint8) is y's.
struct QuantizeLinear: Operator {
    let axis: Int
    let blockSize: Int
    let outputType: DataType?

    init(_ context: NodeContext) throws {
        axis = try context.attributes.int("axis", default: 1)
        blockSize = try context.attributes.int("block_size", default: 0)
        guard blockSize >= 0 else { throw context.invalid("block_size", "must not be negative, is \(blockSize)") }
        if let code = try context.attributes.int("output_dtype"), code != 0 {
            guard let type = DataType(rawValue: Int32(clamping: code)), QuantizedElement.types.contains(type) else {
                throw EngineError.unsupportedDataType(DataType.onnxName(Int32(clamping: code)),
                                                      context: "QuantizeLinear node '\(context.name)' (output_dtype)")
            }
            outputType = type
        } else {
            outputType = nil
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), scale = try inputs.required(1)
        let zeroPoint = inputs.optional(2)
        try x.expect(.float, .int32, role: "x")
        try scale.expect(.float, role: "y_scale")
        var type = outputType ?? .uint8
        if let zeroPoint {
            guard QuantizedElement.types.contains(zeroPoint.dataType) else {
                throw KernelError("y_zero_point must be uint8, int8, uint16 or int16, got \(zeroPoint.dataType)")
            }
            if let outputType, outputType != zeroPoint.dataType {
                throw KernelError("output_dtype \(outputType) differs from y_zero_point's type \(zeroPoint.dataType)")
            }
            type = zeroPoint.dataType
        }
        let layout = try QuantizationLayout(data: x.shape, parameter: scale.shape, axis: axis, blockSize: blockSize)
        try QuantizationLayout.check(zeroPoint: zeroPoint, scale: scale)
        let scales = scale.floats
        let zeros = zeroPoint.map { zp in (0..<zp.count).map { zp.int64Element(at: $0) } }
        let out = try workspace.allocate(type, x.shape)
        if x.dataType == .float, type == .uint8 || type == .int8 {
            // The common case (QDQ activations) without the Int64 detour: same rounding, same saturation.
            let floatZeros = zeros.map { $0.map { Float($0) } } ?? [Float](repeating: 0, count: scales.count)
            if type == .uint8 {
                Self.quantize(x.floats, layout, scales, floatZeros, into: out.mutableBuffer(of: UInt8.self))
            } else {
                Self.quantize(x.floats, layout, scales, floatZeros, into: out.mutableBuffer(of: Int8.self))
            }
            return [out]
        }
        var values = try workspace.allocate(.int64, x.shape)
        defer { workspace.recycle(&values) }
        let pv = values.int64s
        layout.forEach { i, p in
            let q = (x.element(at: i) / scales[p]).rounded(.toNearestOrEven)
            // Added in Double (exact below 2^53) so that ±∞ saturates rather than wrapping past Int64.
            pv[i] = Int64(converting: Double(q) + Double(zeros?[p] ?? 0))
        }
        try QuantizedElement.store(into: out) { pv[$0] }
        return [out]
    }

    /// round_half_even(x / scale) + zero, saturated to T; NaN gives the zero point, as the Int64
    /// path does. q + zero in Float is exact below 2^24, and beyond that both saturate. Written
    /// per type (no generic T): an unspecialised `T(Float)` costs ~20 ns an element.
    private static func quantize(_ x: UnsafeMutableBufferPointer<Float>, _ layout: QuantizationLayout,
                                 _ scales: UnsafeMutableBufferPointer<Float>, _ zeros: [Float],
                                 into y: UnsafeMutableBufferPointer<UInt8>) {
        zeros.withUnsafeBufferPointer { zeros in
            if scales.count == 1 {
                ds_quantize_8bit(x.baseAddress, y.count, scales[0], zeros[0], 0, y.baseAddress)
                return
            }
            layout.forEach { i, p in
                let q = (x[i] / scales[p]).rounded(.toNearestOrEven) + zeros[p]
                y[i] = q.isNaN ? UInt8(zeros[p]) : UInt8(Swift.min(255, Swift.max(0, q)))
            }
        }
    }

    private static func quantize(_ x: UnsafeMutableBufferPointer<Float>, _ layout: QuantizationLayout,
                                 _ scales: UnsafeMutableBufferPointer<Float>, _ zeros: [Float],
                                 into y: UnsafeMutableBufferPointer<Int8>) {
        zeros.withUnsafeBufferPointer { zeros in
            if scales.count == 1 {
                UnsafeMutableRawPointer(y.baseAddress).map {
                    ds_quantize_8bit(x.baseAddress, y.count, scales[0], zeros[0], 1, $0.assumingMemoryBound(to: UInt8.self))
                }
                return
            }
            layout.forEach { i, p in
                let q = (x[i] / scales[p]).rounded(.toNearestOrEven) + zeros[p]
                y[i] = q.isNaN ? Int8(zeros[p]) : Int8(Swift.min(127, Swift.max(-128, q)))
            }
        }
    }
}

/// DequantizeLinear (opsets 10–21): y = (x - zero_point) * scale, in float32.
struct DequantizeLinear: Operator {
    let axis: Int
    let blockSize: Int

    init(_ context: NodeContext) throws {
        axis = try context.attributes.int("axis", default: 1)
        blockSize = try context.attributes.int("block_size", default: 0)
        guard blockSize >= 0 else { throw context.invalid("block_size", "must not be negative, is \(blockSize)") }
        if let code = try context.attributes.int("output_dtype"), code != 0, code != Int(DataType.float.rawValue) {
            throw EngineError.unsupportedDataType(DataType.onnxName(Int32(clamping: code)),
                                                  context: "DequantizeLinear node '\(context.name)' (output_dtype)")
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), scale = try inputs.required(1)
        let zeroPoint = inputs.optional(2)
        guard (QuantizedElement.types + [.int32]).contains(x.dataType) else {
            throw KernelError("x must be uint8, int8, uint16, int16 or int32, got \(x.dataType)")
        }
        try scale.expect(.float, role: "x_scale")
        if let zeroPoint, zeroPoint.dataType != x.dataType {
            throw KernelError("x_zero_point is \(zeroPoint.dataType) but x is \(x.dataType)")
        }
        let layout = try QuantizationLayout(data: x.shape, parameter: scale.shape, axis: axis, blockSize: blockSize)
        try QuantizationLayout.check(zeroPoint: zeroPoint, scale: scale)
        let scales = scale.floats
        let zeros = zeroPoint.map { zp in (0..<zp.count).map { zp.int64Element(at: $0) } }
        let out = try workspace.allocate(.float, x.shape)
        let py = out.floats
        if x.dataType == .uint8 || x.dataType == .int8 {
            // 8-bit data: x − zero is exact in Float, so this is the same value without the Int64 detour.
            let floatZeros = zeros.map { $0.map { Float($0) } } ?? [Float](repeating: 0, count: scales.count)
            floatZeros.withUnsafeBufferPointer { zeros in
                if x.dataType == .uint8 {
                    let px = x.mutableBuffer(of: UInt8.self)
                    layout.forEach { i, p in py[i] = (Float(px[i]) - zeros[p]) * scales[p] }
                } else {
                    let px = x.mutableBuffer(of: Int8.self)
                    layout.forEach { i, p in py[i] = (Float(px[i]) - zeros[p]) * scales[p] }
                }
            }
            return [out]
        }
        layout.forEach { i, p in
            py[i] = Float(x.int64Element(at: i) - (zeros?[p] ?? 0)) * scales[p]
        }
        return [out]
    }
}

/// DynamicQuantizeLinear: uint8 quantization with the scale and zero point computed from the
/// data's range (widened to include 0), as the reference and onnxruntime do.
struct DynamicQuantizeLinear: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, role: "x")
        let px = x.floats
        var low: Float = 0, high: Float = 0
        for v in px {
            if v < low { low = v }
            if v > high { high = v }
        }
        let scale = (high == low ? 1 : high - low) / 255
        let zero = Float(0) - low / scale
        // NaN only from infinite data; `UInt8(_:)` would trap on it.
        let zeroPoint = zero.isNaN ? 0 : min(255, max(0, zero)).rounded(.toNearestOrEven)
        let y = try workspace.allocate(.uint8, x.shape)
        let py = y.mutableBuffer(of: UInt8.self)
        for i in px.indices {
            let q = (px[i] / scale).rounded(.toNearestOrEven) + zeroPoint
            py[i] = q.isNaN ? UInt8(zeroPoint) : UInt8(min(255, max(0, q)))
        }
        let outScale = try workspace.allocate(.float, [])
        outScale.floats[0] = scale
        let outZero = try workspace.allocate(.uint8, [])
        outZero.mutableBuffer(of: UInt8.self)[0] = UInt8(zeroPoint)
        return [y, outScale, outZero]
    }
}
