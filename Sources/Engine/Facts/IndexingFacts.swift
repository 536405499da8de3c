/// Shape rules of the indexing, quantization and resampling operators. Those whose output size depends on the data
/// itself (NonZero, Compress, NonMaxSuppression) state what the shapes alone imply.

extension GatherElements {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let data = try inputs.required(0), indices = try inputs.required(1)
        if let dataRank = data.rank, let indexRank = indices.rank, dataRank != indexRank {
            throw KernelError("data \(data) and indices \(indices) must have the same rank")
        }
        return [TensorFact(data.dataType, indices.shape)]
    }
}

/// Scatters write into a copy of their data.
extension ScatterElements: ShapePreserving {}
extension ScatterND: ShapePreserving {}

extension TopK {
    /// Values and int64 indices, the axis cut to K.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard var shape = x.shape else { return [x.sameShape, x.with(.int64)] }
        let axis = try normalizedAxis(self.axis, rank: shape.count)
        let k = try attributeK ?? inputs.required(1).indices(role: "K").flatMap { $0.count == 1 ? $0[0] : nil }
        if let k, let dim = shape[axis].fixedValue, k < 0 || k > dim {
            throw KernelError("K \(k) is out of range for axis \(axis) of size \(dim)")
        }
        shape[axis] = k.map { .fixed($0) } ?? .unknown
        return [TensorFact(x.dataType, shape), TensorFact(.int64, shape)]
    }
}

extension OneHot {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let indices = try inputs.required(0), depth = try inputs.required(1), values = try inputs.required(2)
        guard var shape = indices.shape else { return [TensorFact(values.dataType, nil)] }
        let rank = shape.count + 1
        let position = axis < 0 ? axis + rank : axis
        guard position >= 0, position < rank else { throw KernelError("axis \(axis) is out of range for an output of rank \(rank)") }
        let size = depth.value.flatMap { $0.count == 1 && $0.dataType != .bool ? Int(clamping: $0.int64Element(at: 0)) : nil }
        shape.insert(size.map { .fixed($0) } ?? .unknown, at: position)
        return [TensorFact(values.dataType, shape)]
    }
}

extension BlockRearrange {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [TensorFact(x.dataType, rank: 4)] }
        guard shape.count == 4 else { throw KernelError("input must be 4-d [N, C, H, W], is \(x)") }
        let block = Dimension.fixed(blocksize), area = blocksize * blocksize
        switch direction {
        case .depthToSpace:
            let depth: Dimension = shape[1].fixedValue.map { $0 % area == 0 ? .fixed($0 / area) : .unknown } ?? .unknown
            return [TensorFact(x.dataType, [shape[0], depth, shape[2] * block, shape[3] * block])]
        case .spaceToDepth:
            func divided(_ dim: Dimension) -> Dimension { dim.fixedValue.map { $0 % blocksize == 0 ? .fixed($0 / blocksize) : .unknown } ?? .unknown }
            return [TensorFact(x.dataType, [shape[0], shape[1] * .fixed(area), divided(shape[2]), divided(shape[3])])]
        }
    }
}

extension QuantizeLinear {
    /// x's shape, in the zero point's type (or output_dtype, or uint8).
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        let zeroPoint = inputs.optional(2)
        let type = zeroPoint.map { $0.dataType } ?? outputType ?? .uint8
        return [x.with(type)]
    }
}

extension DequantizeLinear {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? { [try inputs.required(0).with(.float)] }
}

extension DynamicQuantizeLinear {
    /// y (uint8, x's shape), then the scalar scale and zero point.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [try inputs.required(0).with(.uint8), TensorFact(.float, []), TensorFact(.uint8, [])]
    }
}

extension MatMulInteger {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [TensorFact(.int32, try matrixProductShape(try inputs.required(0), try inputs.required(1)))]
    }
}

extension QLinearMatMul {
    /// The product's shape, in y_zero_point's type (uint8 without one).
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let type = inputs.optional(7).map { $0.dataType } ?? .uint8
        return [TensorFact(type, try matrixProductShape(try inputs.required(0), try inputs.required(3)))]
    }
}

extension NonZero {
    /// [rank, number of nonzero elements]: the second dimension is only known at run time.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let rank = try inputs.required(0).rank.map { Dimension.fixed(max($0, 1)) } ?? .unknown
        return [TensorFact(.int64, [rank, .unknown])]
    }
}

extension Compress {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let axis, var shape = x.shape else { return [TensorFact(x.dataType, [.unknown])] }
        shape[try normalizedAxis(axis, rank: shape.count)] = .unknown
        return [TensorFact(x.dataType, shape)]
    }
}

extension NonMaxSuppression {
    /// [selected boxes, 3] of (batch, class, box) indices.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? { [TensorFact(.int64, [.unknown, .fixed(3)])] }
}

extension Resize {
    /// Exact when the input's shape and the scales or sizes are known; otherwise per axis where that is provable: an
    /// axis scaled by 1 keeps its dimension, and stretched sizes are the sizes given.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        if let type = x.dataType, type != .float { throw KernelError("X must be float, got \(type)") }
        guard let shape = x.shape else { return [x.with(.float)] }
        let axes = try (self.axes ?? Array(0..<shape.count)).map { try normalizedAxis($0, rank: shape.count) }
        let scalesInput = legacyInputs ? inputs.optional(1) : inputs.optional(2)
        let sizesInput = legacyInputs ? nil : inputs.optional(3)
        // An input whose value is unknown, or known to be empty (the "not given" of Resize-13).
        let sizesGiven = sizesInput.map { $0.value.map { $0.count > 0 } ?? ($0.fixedShape.map { $0.reduce(1, *) > 0 } ?? true) } ?? false
        if sizesGiven && sizesInput?.value == nil { return [TensorFact(.float, rank: shape.count)] }
        let scales = attributeScales ?? scalesInput?.value.flatMap { $0.count > 0 ? $0.floatArray() : nil }
        if !sizesGiven && scales == nil { return [TensorFact(.float, rank: shape.count)] }
        if let fixed = x.fixedShape {
            let sizes = try outputSizes(input: fixed, axes: axes, scalesInput: sizesGiven ? nil : scalesInput?.value,
                                        sizesInput: sizesGiven ? sizesInput?.value : nil).sizes
            return [TensorFact(.float, sizes.map { .fixed($0) })]
        }
        var result = shape
        if sizesGiven, let sizes = try sizesInput?.indices(role: "sizes") {
            guard sizes.count == axes.count else { throw KernelError("sizes has \(sizes.count) values for \(axes.count) axes") }
            for (axis, size) in zip(axes, sizes) {
                result[axis] = aspectPolicy == .stretch ? .fixed(size) : .unknown   // kept aspect: every axis's ratio counts
            }
        } else if let scales {
            guard scales.count == axes.count else { throw KernelError("scales has \(scales.count) values for \(axes.count) axes") }
            for (axis, scale) in zip(axes, scales) where scale != 1 { result[axis] = .unknown }
        }
        return [TensorFact(.float, result)]
    }
}

extension GatherND {
    /// indices' shape without its last axis, then data's axes after the batch axes and the m it addresses.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let data = try inputs.required(0), indices = try inputs.required(1)
        guard let dataShape = data.shape, let indexShape = indices.shape else { return [TensorFact(data.dataType, nil)] }
        let (b, r, q) = (batchDims, dataShape.count, indexShape.count)
        guard q >= 1, r >= 1, b >= 0, b < min(q, r) else {
            throw KernelError("batch_dims \(b) does not fit data \(data) and indices \(indices)")
        }
        guard let m = indexShape[q - 1].fixedValue else { return [TensorFact(data.dataType, nil)] }
        guard m <= r - b else { throw KernelError("indices \(indices) do not address data \(data) with batch_dims \(b)") }
        return [TensorFact(data.dataType, Array(indexShape[..<(q - 1)]) + Array(dataShape[(b + m)...]))]
    }
}

extension GridSample {
    /// [N, C] and the grid's output sizes.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0), grid = try inputs.required(1)
        guard let xShape = x.shape, let gridShape = grid.shape else { return [TensorFact(.float, rank: x.rank)] }
        guard xShape.count == 4 || xShape.count == 5, gridShape.count == xShape.count else {
            throw KernelError("grid \(grid) must be [N, out…, \(xShape.count - 2)] for input \(x)")
        }
        let batch = try xShape[0].unified(with: gridShape[0], "the batch of X \(x) and grid \(grid)")
        return [TensorFact(.float, [batch, xShape[1]] + Array(gridShape[1..<(gridShape.count - 1)]))]
    }
}

extension RoiAlign {
    /// [boxes, C, output_height, output_width].
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0), rois = try inputs.required(1)
        let channels: Dimension = x.shape.map { $0.count == 4 ? $0[1] : .unknown } ?? .unknown
        let boxes: Dimension = rois.shape?.first ?? .unknown
        return [TensorFact(.float, [boxes, channels, .fixed(outputHeight), .fixed(outputWidth)])]
    }
}
