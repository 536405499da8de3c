import CKernels

/// The integer products: MatMulInteger, QLinearMatMul, ConvInteger and QLinearConv.
///
/// Reference kernels, exact in int32 as ONNX specifies: 8-bit operands are widened to int32 with
/// their zero points subtracted, multiplied with int32 accumulation (wrapping, as onnxruntime's
/// does, past 2^31), and the QLinear forms requantize with the multiplier `a_scale · b_scale /
/// y_scale`, rounding half to even and saturating to the output type.
enum IntegerOperand {
    static let types: [DataType] = [.uint8, .int8]

    /// `tensor - zeroPoint` as int32; the zero point is a scalar or a vector along `axis`.
    static func widened(_ tensor: Tensor, zeroPoint: Tensor?, axis: Int, role: String, _ workspace: Workspace) throws -> Tensor {
        guard types.contains(tensor.dataType) else { throw KernelError("\(role) must be uint8 or int8, got \(tensor.dataType)") }
        let out = try workspace.allocate(.int32, tensor.shape)
        let po = out.mutableBuffer(of: Int32.self)
        guard let zeroPoint else {
            for i in po.indices { po[i] = Int32(truncatingIfNeeded: tensor.int64Element(at: i)) }
            return out
        }
        guard zeroPoint.dataType == tensor.dataType else {
            throw KernelError("\(role)'s zero point is \(zeroPoint.dataType) but \(role) is \(tensor.dataType)")
        }
        guard zeroPoint.rank <= 1 else { throw KernelError("\(role)'s zero point \(zeroPoint.shape) must be a scalar or a vector") }
        let layout = try QuantizationLayout(data: tensor.shape, parameter: zeroPoint.shape, axis: axis, blockSize: 0)
        let zeros = (0..<zeroPoint.count).map { Int32(truncatingIfNeeded: zeroPoint.int64Element(at: $0)) }
        layout.forEach { i, p in po[i] = Int32(truncatingIfNeeded: tensor.int64Element(at: i)) - zeros[p] }
        return out
    }

    /// Float scale values: one, or `count` (per row, column or output channel).
    static func scales(_ tensor: Tensor, count: Int, role: String) throws -> [Float] {
        try tensor.expect(.float, role: role)
        guard tensor.rank <= 1, tensor.count == 1 || tensor.count == count else {
            throw KernelError("\(role) \(tensor.shape) must be a scalar or have \(count) values")
        }
        return Array(tensor.floats)
    }

    /// The output element type of a QLinear op: its zero point's, else the input's.
    static func outputType(zeroPoint: Tensor?, input: Tensor) throws -> DataType {
        let type = zeroPoint?.dataType ?? input.dataType
        guard types.contains(type) else { throw KernelError("y_zero_point must be uint8 or int8, got \(type)") }
        if let zeroPoint, zeroPoint.count != 1 { throw KernelError("y_zero_point must be a scalar, has shape \(zeroPoint.shape)") }
        return type
    }

    /// `round_half_even(value · multiplier) + zeroPoint`, saturated by the store.
    @inline(__always)
    static func requantize(_ value: Int32, _ multiplier: Float, _ zeroPoint: Int64) -> Int64 {
        Int64(roundingSaturated: Double(value) * Double(multiplier)) &+ zeroPoint
    }
}

/// An int32 matrix product with numpy's batch broadcasting and vector promotion.
struct IntegerProduct {
    var result: Tensor
    /// Rows and columns of each product (before a vector operand's axis is dropped from the shape).
    let m: Int, n: Int

    init(_ a: Tensor, _ b: Tensor, _ workspace: Workspace) throws {
        let shape = try MatMulShape(a, b)
        let (m, k, n, aBatch, bBatch, batch) = (shape.m, shape.k, shape.n, shape.aBatch, shape.bBatch, shape.batch)
        let out = try workspace.allocate(.int32, shape.computed)
        let pa = a.pointer(as: Int32.self), pb = b.pointer(as: Int32.self), po = out.pointer(as: Int32.self)
        if out.count > 0 {
            po.initialize(repeating: 0, count: out.count)
            Broadcast.forEachRun(outShape: batch + [1], inputShapes: [aBatch + [1], bBatch + [1]]) { o, offsets, strides, count in
                for i in 0..<count {
                    Self.multiply(pa + (offsets[0] + i * strides[0]) * m * k, pb + (offsets[1] + i * strides[1]) * k * n,
                                  into: po + (o + i) * m * n, m: m, n: n, k: k)
                }
            }
        }
        result = out.reshaped(shape.result)
        (self.m, self.n) = (m, n)
    }

    /// C[m×n] += A[m×k] · B[k×n], row-major (C's rows `ldc` apart), wrapping.
    static func multiply(_ a: UnsafePointer<Int32>, _ b: UnsafePointer<Int32>, into c: UnsafeMutablePointer<Int32>,
                         m: Int, n: Int, k: Int, ldc: Int? = nil) {
        for i in 0..<m {
            let row = c + i * (ldc ?? n)
            for p in 0..<k {
                let value = a[i * k + p]
                if value == 0 { continue }
                let source = b + p * n
                for j in 0..<n { row[j] = row[j] &+ value &* source[j] }
            }
        }
    }
}

extension IntegerProduct {
    init(result: Tensor, m: Int, n: Int) {
        self.result = result
        (self.m, self.n) = (m, n)
    }

    /// The product of the 8-bit operands themselves by `ds_igemm` (AVX-512 VNNI, AVX2 or portable
    /// C; exact, like the widening path). Nil where the ranks or zero points are laid out otherwise
    /// (a vector operand, a zero point of another type or shape): the caller then widens, which
    /// also reports what was wrong.
    static func direct(_ a: Tensor, zeroPoint aZero: Tensor?, _ b: Tensor, zeroPoint bZero: Tensor?,
                       _ workspace: Workspace) throws -> IntegerProduct? {
        guard a.rank >= 2, b.rank >= 2, IntegerOperand.types.contains(a.dataType), IntegerOperand.types.contains(b.dataType) else {
            return nil
        }
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
        guard b.shape[b.rank - 2] == k,
              let rowZeros = zeros(aZero, of: a, count: m), let columnZeros = zeros(bZero, of: b, count: n) else { return nil }
        let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
        let batch = try Broadcast.shape([aBatch, bBatch])
        let out = try workspace.allocate(.int32, batch + [m, n])
        guard out.count > 0 else { return IntegerProduct(result: out, m: m, n: n) }
        let pa = a.pointer(as: UInt8.self), pb = b.pointer(as: UInt8.self), po = out.pointer(as: Int32.self)
        let aSigned: Int32 = a.dataType == .int8 ? 1 : 0, bSigned: Int32 = b.dataType == .int8 ? 1 : 0
        if bBatch.isEmpty {
            // One B for every batch: the batches are just more rows, and B is packed once.
            let rows = aBatch.reduce(1, *) * m
            let tiled = rowZeros.isEmpty ? [] : Array(repeating: rowZeros, count: rows / max(1, m)).flatMap { $0 }
            tiled.withUnsafeBufferPointer { rz in
                columnZeros.withUnsafeBufferPointer { cz in
                    ds_igemm(rows, n, k, pa, k, aSigned, rz.baseAddress, pb, n, bSigned, cz.baseAddress, po, n)
                }
            }
            return IntegerProduct(result: out, m: m, n: n)
        }
        rowZeros.withUnsafeBufferPointer { rz in
            columnZeros.withUnsafeBufferPointer { cz in
                Broadcast.forEachRun(outShape: batch + [1], inputShapes: [aBatch + [1], bBatch + [1]]) { o, offsets, strides, count in
                    for i in 0..<count {
                        ds_igemm(m, n, k, pa + (offsets[0] + i * strides[0]) * m * k, k, aSigned, rz.baseAddress,
                                 pb + (offsets[1] + i * strides[1]) * k * n, n, bSigned, cz.baseAddress, po + (o + i) * m * n, n)
                    }
                }
            }
        }
        return IntegerProduct(result: out, m: m, n: n)
    }

    /// A zero point as `count` int32 values ([] for none); nil when it is not a scalar or a
    /// vector of `count` values of the operand's type.
    private static func zeros(_ zeroPoint: Tensor?, of tensor: Tensor, count: Int) -> [Int32]? {
        guard let zeroPoint else { return [] }
        guard zeroPoint.dataType == tensor.dataType, zeroPoint.rank <= 1 else { return nil }
        if zeroPoint.count == 1 { return Array(repeating: Int32(truncatingIfNeeded: zeroPoint.int64Element(at: 0)), count: count) }
        guard zeroPoint.rank == 1, zeroPoint.count == count else { return nil }
        return (0..<count).map { Int32(truncatingIfNeeded: zeroPoint.int64Element(at: $0)) }
    }

    /// The direct product when it applies, else the widening one.
    static func of(_ a: Tensor, zeroPoint aZero: Tensor?, _ b: Tensor, zeroPoint bZero: Tensor?, roles: (String, String),
                   _ workspace: Workspace) throws -> IntegerProduct {
        if let product = try direct(a, zeroPoint: aZero, b, zeroPoint: bZero, workspace) { return product }
        var wa = try IntegerOperand.widened(a, zeroPoint: aZero, axis: -2, role: roles.0, workspace)
        var wb = try IntegerOperand.widened(b, zeroPoint: bZero, axis: -1, role: roles.1, workspace)
        defer { workspace.recycle(&wa); workspace.recycle(&wb) }
        return try IntegerProduct(wa, wb, workspace)
    }
}

/// MatMulInteger: (A - a_zero_point) · (B - b_zero_point) in int32; a's zero point per row or
/// scalar, b's per column or scalar.
struct MatMulInteger: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let a = try inputs.required(0), b = try inputs.required(1)
        return [try IntegerProduct.of(a, zeroPoint: inputs.optional(2), b, zeroPoint: inputs.optional(3), roles: ("A", "B"), workspace).result]
    }
}

/// QLinearMatMul (opsets 10, 21): the integer product requantized to y's scale and zero point.
struct QLinearMatMul: Operator {
    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let a = try inputs.required(0), aScale = try inputs.required(1), aZero = inputs.optional(2)
        let b = try inputs.required(3), bScale = try inputs.required(4), bZero = inputs.optional(5)
        let yScale = try inputs.required(6), yZero = inputs.optional(7)
        var product = try IntegerProduct.of(a, zeroPoint: aZero, b, zeroPoint: bZero, roles: ("a", "b"), workspace)
        defer { workspace.recycle(&product.result) }
        let (m, n) = (product.m, product.n)
        let aScales = try IntegerOperand.scales(aScale, count: m, role: "a_scale")
        let bScales = try IntegerOperand.scales(bScale, count: n, role: "b_scale")
        let yScales = try IntegerOperand.scales(yScale, count: 1, role: "y_scale")
        let type = try IntegerOperand.outputType(zeroPoint: yZero, input: a)
        let zero = yZero.map { $0.int64Element(at: 0) } ?? 0
        let c = product.result.mutableBuffer(of: Int32.self)
        let out = try workspace.allocate(type, product.result.shape)
        try QuantizedElement.store(into: out) { i in
            let row = (i / n) % m, column = i % n
            let multiplier = aScales[aScales.count == 1 ? 0 : row] * bScales[bScales.count == 1 ? 0 : column] / yScales[0]
            return IntegerOperand.requantize(c[i], multiplier, zero)
        }
        return [out]
    }
}

/// An int32 convolution of zero-point-free int32 operands (padding is therefore 0) over any
/// number of spatial dimensions: per image and group, unfold a band of output pixels and multiply.
struct IntegerConvolution {
    var result: Tensor
    /// Output pixels per image and output channels.
    let pixels: Int, outChannels: Int

    init(_ x: Tensor, _ w: Tensor, window: SpatialWindow, group: Int, _ workspace: Workspace) throws {
        guard x.rank >= 3, x.rank == w.rank else {
            throw KernelError("X \(x.shape) and W \(w.shape) must both be N × C × spatial… of the same rank")
        }
        let (batch, channels, outChannels) = (x.shape[0], x.shape[1], w.shape[0])
        guard group > 0, channels % group == 0, channels / group == w.shape[1], outChannels % group == 0 else {
            throw KernelError("X has \(channels) channels but W \(w.shape) with group \(group) expects \(w.shape[1]) per group")
        }
        let spatial = Array(x.shape.dropFirst(2))
        let g = try window.resolve(input: spatial, kernel: Array(w.shape.dropFirst(2)))
        let out = try workspace.allocate(.int32, [batch, outChannels] + g.output)
        result = out
        self.outChannels = outChannels
        let cinPerGroup = channels / group, coutPerGroup = outChannels / group
        // Checked: with no input channels the kernel's dimensions may be anything.
        let kernelSize = try checkedElementCount([cinPerGroup] + g.kernel)
        guard out.count > 0, x.count > 0, kernelSize > 0 else {
            out.pointer(as: Int32.self).initialize(repeating: 0, count: out.count)
            pixels = out.count > 0 ? g.output.reduce(1, *) : 0
            return
        }
        pixels = g.output.reduce(1, *)
        let imageSize = channels * spatial.reduce(1, *), planeSize = spatial.reduce(1, *)
        let band = max(1, min(pixels, Conv.columnBudget / max(1, kernelSize)))
        var columns = try workspace.allocate(.int32, [kernelSize, band])
        defer { workspace.recycle(&columns) }
        let px = x.pointer(as: Int32.self), pw = w.pointer(as: Int32.self)
        let py = out.pointer(as: Int32.self), pc = columns.pointer(as: Int32.self)
        py.initialize(repeating: 0, count: out.count)
        for n in 0..<batch {
            for gi in 0..<group {
                try workspace.checkpoint()
                let image = px + n * imageSize + gi * cinPerGroup * planeSize
                for first in stride(from: 0, to: pixels, by: band) {
                    let count = min(band, pixels - first)
                    Im2Col.unfold(UnsafePointer(image), channels: cinPerGroup, spatial: spatial, g, pixels: first..<(first + count),
                                  padding: 0, into: pc, ld: count)
                    // This group's filters [cout/g × kernel] times the columns [kernel × count], into the output band.
                    let firstChannel = gi * coutPerGroup
                    IntegerProduct.multiply(pw + firstChannel * kernelSize, UnsafePointer(pc),
                                            into: py + (n * outChannels + firstChannel) * pixels + first,
                                            m: coutPerGroup, n: count, k: kernelSize, ldc: pixels)
                }
            }
        }
    }
}

extension IntegerConvolution {
    init(result: Tensor, pixels: Int, outChannels: Int) {
        self.result = result
        (self.pixels, self.outChannels) = (pixels, outChannels)
    }

    /// The convolution of the 8-bit operands themselves: 8-bit im2col padded with x's zero point
    /// (so padding contributes nothing once it is subtracted), then `ds_igemm` per group and band.
    /// Nil for what the widening path handles (or rejects): empty tensors, zero points of another
    /// type or shape.
    static func direct(_ x: Tensor, zeroPoint xZero: Tensor?, _ w: Tensor, zeroPoint wZero: Tensor?, window: SpatialWindow,
                       group: Int, _ workspace: Workspace) throws -> IntegerConvolution? {
        guard x.rank >= 3, x.rank == w.rank, IntegerOperand.types.contains(x.dataType), IntegerOperand.types.contains(w.dataType),
              x.count > 0 else { return nil }
        let (batch, channels, outChannels) = (x.shape[0], x.shape[1], w.shape[0])
        guard group > 0, channels % group == 0, channels / group == w.shape[1], outChannels % group == 0 else { return nil }
        var imageZero: UInt8 = 0
        if let xZero {
            guard xZero.dataType == x.dataType, xZero.rank <= 1, xZero.count == 1 else { return nil }
            imageZero = xZero.pointer(as: UInt8.self)[0]
        }
        var filterZeros = [Int32](repeating: 0, count: outChannels)
        if let wZero {
            guard wZero.dataType == w.dataType, wZero.rank <= 1, wZero.count == 1 || wZero.count == outChannels else { return nil }
            filterZeros = (0..<outChannels).map { Int32(truncatingIfNeeded: wZero.int64Element(at: wZero.count == 1 ? 0 : $0)) }
        }
        let spatial = Array(x.shape.dropFirst(2))
        let g = try window.resolve(input: spatial, kernel: Array(w.shape.dropFirst(2)))
        let cinPerGroup = channels / group, coutPerGroup = outChannels / group
        let kernelSize = try checkedElementCount([cinPerGroup] + g.kernel)
        let pixels = try checkedElementCount(g.output)
        guard outChannels > 0, pixels > 0, kernelSize > 0 else { return nil }
        let out = try workspace.allocate(.int32, [batch, outChannels] + g.output)
        let planeSize = spatial.reduce(1, *), imageSize = channels * planeSize
        let band = max(1, min(pixels, Conv.columnBudget / max(1, kernelSize)))
        var columns = try workspace.allocate(.uint8, [kernelSize, band])
        defer { workspace.recycle(&columns) }
        let px = x.pointer(as: UInt8.self), pw = w.pointer(as: UInt8.self)
        let py = out.pointer(as: Int32.self), pc = columns.pointer(as: UInt8.self)
        let xSigned: Int32 = x.dataType == .int8 ? 1 : 0, wSigned: Int32 = w.dataType == .int8 ? 1 : 0
        let columnZero = xSigned == 1 ? Int32(Int8(bitPattern: imageZero)) : Int32(imageZero)
        let columnZeros = [Int32](repeating: columnZero, count: band)
        for n in 0..<batch {
            for gi in 0..<group {
                try workspace.checkpoint()
                let image = px + n * imageSize + gi * cinPerGroup * planeSize
                for first in stride(from: 0, to: pixels, by: band) {
                    let count = min(band, pixels - first)
                    Im2Col.unfold(UnsafePointer(image), channels: cinPerGroup, spatial: spatial, g, pixels: first..<(first + count),
                                  padding: imageZero, into: pc, ld: count)
                    filterZeros.withUnsafeBufferPointer { fz in
                        columnZeros.withUnsafeBufferPointer { cz in
                            ds_igemm(coutPerGroup, count, kernelSize, pw + gi * coutPerGroup * kernelSize, kernelSize, wSigned,
                                     fz.baseAddress! + gi * coutPerGroup, pc, count, xSigned, cz.baseAddress,
                                     py + (n * outChannels + gi * coutPerGroup) * pixels + first, pixels)
                        }
                    }
                }
            }
        }
        return IntegerConvolution(result: out, pixels: pixels, outChannels: outChannels)
    }
}

/// ConvInteger: the int32 convolution of (x - x_zero_point) and (w - w_zero_point), the latter
/// scalar or per output channel.
struct ConvInteger: Operator {
    let window: SpatialWindow
    let group: Int

    init(_ context: NodeContext) throws {
        window = try SpatialWindow(context, requireKernel: false)
        group = try context.attributes.int("group", default: 1)
        guard group > 0 else { throw context.invalid("group", "must be positive, is \(group)") }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), w = try inputs.required(1)
        let xZero = inputs.optional(2)
        if let xZero, xZero.count != 1 { throw KernelError("x_zero_point must be a scalar, has shape \(xZero.shape)") }
        if let conv = try IntegerConvolution.direct(x, zeroPoint: xZero, w, zeroPoint: inputs.optional(3), window: window, group: group,
                                                    workspace) {
            return [conv.result]
        }
        var wx = try IntegerOperand.widened(x, zeroPoint: xZero, axis: 0, role: "x", workspace)
        var ww = try IntegerOperand.widened(w, zeroPoint: inputs.optional(3), axis: 0, role: "w", workspace)
        defer { workspace.recycle(&wx); workspace.recycle(&ww) }
        return [try IntegerConvolution(wx, ww, window: window, group: group, workspace).result]
    }
}

/// QLinearConv: the integer convolution plus the int32 bias, requantized with
/// `x_scale · w_scale[channel] / y_scale` to y's zero point and type.
struct QLinearConv: Operator {
    let window: SpatialWindow
    let group: Int

    init(_ context: NodeContext) throws {
        window = try SpatialWindow(context, requireKernel: false)
        group = try context.attributes.int("group", default: 1)
        guard group > 0 else { throw context.invalid("group", "must be positive, is \(group)") }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), xScale = try inputs.required(1), xZero = try inputs.required(2)
        let w = try inputs.required(3), wScale = try inputs.required(4), wZero = try inputs.required(5)
        let yScale = try inputs.required(6), yZero = try inputs.required(7)
        let bias = inputs.optional(8)
        guard xZero.count == 1 else { throw KernelError("x_zero_point must be a scalar, has shape \(xZero.shape)") }
        var conv: IntegerConvolution
        if let direct = try IntegerConvolution.direct(x, zeroPoint: xZero, w, zeroPoint: wZero, window: window, group: group, workspace) {
            conv = direct
        } else {
            var wx = try IntegerOperand.widened(x, zeroPoint: xZero, axis: 0, role: "x", workspace)
            var ww = try IntegerOperand.widened(w, zeroPoint: wZero, axis: 0, role: "w", workspace)
            defer { workspace.recycle(&wx); workspace.recycle(&ww) }
            conv = try IntegerConvolution(wx, ww, window: window, group: group, workspace)
        }
        defer { workspace.recycle(&conv.result) }
        let channels = conv.outChannels, pixels = conv.pixels
        let xScales = try IntegerOperand.scales(xScale, count: 1, role: "x_scale")
        let wScales = try IntegerOperand.scales(wScale, count: channels, role: "w_scale")
        let yScales = try IntegerOperand.scales(yScale, count: 1, role: "y_scale")
        var biases: [Int32]? = nil
        if let bias {
            try bias.expect(.int32, role: "B")
            guard bias.rank == 1, bias.count == channels else { throw KernelError("B has shape \(bias.shape) for \(channels) output channels") }
            biases = Array(bias.mutableBuffer(of: Int32.self))
        }
        let type = try IntegerOperand.outputType(zeroPoint: yZero, input: x)
        let zero = yZero.int64Element(at: 0)
        let multipliers = (0..<channels).map { xScales[0] * wScales[wScales.count == 1 ? 0 : $0] / yScales[0] }
        let c = conv.result.mutableBuffer(of: Int32.self)
        let out = try workspace.allocate(type, conv.result.shape)
        try QuantizedElement.store(into: out) { i in
            let channel = (i / pixels) % channels
            return IntegerOperand.requantize(c[i] &+ (biases?[channel] ?? 0), multipliers[channel], zero)
        }
        return [out]
    }
}
