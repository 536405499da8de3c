/// Shape rules of the operators that reshape, describe or move data. Several read a small second input (a shape, axes,
/// pads); when its value is not known before a run, they still state the rank where it is implied.

extension TensorFact {
    /// The value as a list of indices or sizes, when known.
    func indices(role: String) throws -> [Int]? {
        try value.map { try indexList($0, role: role) }
    }
}

private func shapeDescription(_ shape: [Dimension]) -> String {
    "[" + shape.map(\.description).joined(separator: ", ") + "]"
}

extension Reshape {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        let shapeInput = attributeShape == nil ? try inputs.required(1) : nil
        guard let requested = attributeShape.map({ $0.map(Dimension.fixed) }) ?? shapeInput?.elementDimensions else {
            return [TensorFact(x.dataType, rank: shapeInput?.shape?.first?.fixedValue)]
        }
        if let fixed = x.fixedShape, let values = requested.fixedValues {
            return [TensorFact(x.dataType, try Self.resolve(values, input: fixed, allowZero: allowZero).map { .fixed($0) })]
        }
        // Some dimensions are named or unknown: 0 still copies the input's, a name stands for itself, and a -1 is the
        // input's count over the others', a named dimension when the rest cancels out (Reshape(x, [0, -1]) of [N, 8, 4]).
        var shape: [Dimension] = []
        var inferred: Int?
        for (axis, dim) in requested.enumerated() {
            switch dim {
            case .fixed(0) where !allowZero:
                guard let inputShape = x.shape else { shape.append(.unknown); continue }
                guard axis < inputShape.count else { throw KernelError("shape \(requested) copies dimension \(axis) that \(x) lacks") }
                shape.append(inputShape[axis])
            case .fixed(-1):
                guard inferred == nil else { throw KernelError("shape \(requested) has more than one -1") }
                inferred = axis
                shape.append(.unknown)
            case .fixed(let size):
                guard size >= 0 else { throw KernelError("shape \(requested) has a negative dimension") }
                shape.append(dim)
            case .symbolic, .unknown:
                shape.append(dim)
            }
        }
        if let inferred, let inputShape = x.shape {
            shape[inferred] = quotient(inputShape, dividedBy: shape.enumerated().filter { $0.offset != inferred }.map(\.element))
        }
        return [TensorFact(x.dataType, shape)]
    }

    /// The product of `dividend` over that of `divisor`, when the division is exact on names and fixed sizes alike.
    private func quotient(_ dividend: [Dimension], dividedBy divisor: [Dimension]) -> Dimension {
        var remaining = dividend
        var fixedDivisor = 1
        for dim in divisor {
            switch dim {
            case .fixed(let value):
                let (product, overflow) = fixedDivisor.multipliedReportingOverflow(by: value)
                guard !overflow else { return .unknown }
                fixedDivisor = product
            case .symbolic:
                guard let index = remaining.firstIndex(of: dim) else { return .unknown }
                remaining.remove(at: index)
            case .unknown:
                return .unknown
            }
        }
        let names = remaining.filter { $0.fixedValue == nil }
        guard names.allSatisfy({ if case .symbolic = $0 { true } else { false } }) else { return .unknown }
        guard let fixedDividend = remaining.filter({ $0.fixedValue != nil }).fixedCount, fixedDivisor > 0,
              fixedDividend % fixedDivisor == 0 else { return .unknown }
        let ratio = fixedDividend / fixedDivisor
        switch (names.count, ratio) {
        case (0, _): return .fixed(ratio)
        case (1, 1): return names[0]
        default: return .unknown
        }
    }
}

extension Flatten {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [TensorFact(x.dataType, rank: 2)] }
        let axis = self.axis < 0 ? self.axis + shape.count : self.axis
        guard axis >= 0, axis <= shape.count else { throw KernelError("axis \(self.axis) is out of range for rank \(shape.count)") }
        return [TensorFact(x.dataType, [Array(shape[..<axis]).product, Array(shape[axis...]).product])]
    }
}

extension Squeeze {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        let axesInput = inputs.optional(1)
        let given: [Int]?
        if let attributeAxes {
            given = attributeAxes
        } else if let axesInput {
            guard let values = try axesInput.indices(role: "axes") else { return [TensorFact(x.dataType, nil)] }
            given = values
        } else {
            given = nil
        }
        guard let shape = x.shape else { return [TensorFact(x.dataType, nil)] }
        guard let given else {
            // Every axis of size 1: only provable when no dimension is named or unknown.
            guard x.fixedShape != nil else { return [TensorFact(x.dataType, nil)] }
            return [TensorFact(x.dataType, shape.filter { $0 != .fixed(1) })]
        }
        let axes = Set(try given.map { try normalizedAxis($0, rank: shape.count) })
        for axis in axes {
            if let size = shape[axis].fixedValue, size != 1 {
                throw KernelError("cannot squeeze axis \(axis) of \(shapeDescription(shape)): its size is not 1")
            }
        }
        var out = TensorFact(x.dataType, shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element))
        if shape.count == 1, axes == [0] { out.elements = x.elements }   // [d] → the scalar d
        return [out]
    }
}

extension Unsqueeze {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let given = try attributeAxes ?? inputs.required(1).indices(role: "axes") else {
            let added = inputs.optional(1)?.shape?.first?.fixedValue
            return [TensorFact(x.dataType, rank: x.rank.flatMap { rank in added.map { rank + $0 } })]
        }
        guard let shape = x.shape else { return [TensorFact(x.dataType, rank: nil)] }
        let rank = shape.count + given.count
        let axes = try given.map { try normalizedAxis($0, rank: rank) }
        guard Set(axes).count == axes.count else { throw KernelError("axes \(given) repeat an axis") }
        var source = shape.makeIterator()
        var out = TensorFact(x.dataType, (0..<rank).map { axes.contains($0) ? .fixed(1) : source.next()! })
        if shape.isEmpty, rank == 1 { out.elements = x.elements }   // the scalar d → [d]
        return [out]
    }
}

extension ShapeOf {
    /// A 1-d int64 of the selected dimensions, whose value is known when they are all fixed.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        guard let shape = try inputs.required(0).shape else { return [TensorFact(.int64, [.unknown])] }
        func clamp(_ value: Int) -> Int { min(max(value < 0 ? value + shape.count : value, 0), shape.count) }
        let (from, to) = (clamp(start), clamp(end ?? shape.count))
        let selected = from < to ? Array(shape[from..<to]) : []
        guard let dims = selected.fixedValues?.map({ Int64($0) }) else { return [.shapeValue(selected)] }
        return [TensorFact(known: Tensor(shape: [dims.count], int64s: dims))]
    }
}

extension Size {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        guard let count = try inputs.required(0).shape?.fixedCount else { return [TensorFact(.int64, [])] }
        return [TensorFact(known: Tensor(shape: [], int64s: [Int64(count)]))]
    }
}

extension Constant {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? { [TensorFact(known: value)] }
}

extension ConstantOfShape {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let shapeInput = try inputs.required(0)
        guard let shape = shapeInput.elementDimensions else {
            return [TensorFact(value.dataType, rank: shapeInput.shape?.first?.fixedValue)]
        }
        if shape.contains(where: { ($0.fixedValue ?? 0) < 0 }) { throw KernelError("shape \(shape) has a negative dimension") }
        return [TensorFact(value.dataType, shape)]
    }
}

extension Expand {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0), shapeInput = try inputs.required(1)
        guard let requested = shapeInput.elementDimensions else {
            let rank = shapeInput.shape?.first?.fixedValue
            return [TensorFact(x.dataType, rank: x.rank.flatMap { xRank in rank.map { max(xRank, $0) } })]
        }
        return [try .broadcasting([x, TensorFact(x.dataType, requested)], dataType: x.dataType)]
    }
}

extension Tile {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let repeats = try inputs.required(1).indices(role: "repeats"), let shape = x.shape else {
            return [TensorFact(x.dataType, rank: x.rank)]
        }
        guard repeats.count == shape.count, repeats.allSatisfy({ $0 >= 0 }) else {
            throw KernelError("repeats \(repeats) must have one non-negative value per axis of \(shapeDescription(shape))")
        }
        return [TensorFact(x.dataType, zip(shape, repeats).map { $0 * .fixed($1) })]
    }
}

extension ArithmeticRange {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let start = try inputs.required(0)
        guard let values = [start, try inputs.required(1), try inputs.required(2)].map(\.value) as? [Tensor] else {
            return [TensorFact(start.dataType, [.unknown])]
        }
        return [TensorFact(start.dataType, [.fixed(try Self.count(start: values[0], limit: values[1], delta: values[2]))])]
    }
}

extension Transpose {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [TensorFact(x.dataType, rank: perm?.count)] }
        let perm = self.perm ?? Array((0..<shape.count).reversed())
        guard perm.count == shape.count, Set(perm) == Set(0..<shape.count) else {
            throw KernelError("perm \(perm) is not a permutation of the \(shape.count) axes of \(shapeDescription(shape))")
        }
        return [TensorFact(x.dataType, perm.map { shape[$0] })]
    }
}

extension Concat {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let parts = inputs.compactMap { $0 }
        guard let first = parts.first else { throw KernelError("needs at least one input") }
        let dataType = parts.lazy.compactMap(\.dataType).first
        guard let rank = parts.lazy.compactMap(\.rank).first else { return [TensorFact(dataType, nil)] }
        let axis = try normalizedAxis(self.axis, rank: rank)
        var shape: [Dimension] = Array(repeating: .unknown, count: rank)
        var length: Dimension = .fixed(0)
        for part in parts {
            if let type = part.dataType, let dataType, type != dataType {
                throw KernelError("cannot concatenate \(first) and \(part) on axis \(axis): their types differ")
            }
            guard let partShape = part.shape else { length = .unknown; continue }
            guard partShape.count == rank else { throw KernelError("cannot concatenate \(first) and \(part): their ranks differ") }
            for index in 0..<rank where index != axis {
                shape[index] = try shape[index].unified(with: partShape[index], "dimension \(index) of the inputs of a concatenation on axis \(axis)")
            }
            if let sum = length.fixedValue, let size = partShape[axis].fixedValue {
                let (total, overflow) = sum.addingReportingOverflow(size)
                length = overflow ? .unknown : .fixed(total)
            } else {
                length = .unknown
            }
        }
        shape[axis] = length
        var out = TensorFact(dataType, shape)
        if rank == 1 {   // shapes being built: their elements in order
            let pieces = parts.map(\.elementDimensions)
            if pieces.allSatisfy({ $0 != nil }) { out.elements = pieces.flatMap { $0! } }
        }
        return [out]
    }
}

extension Split {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return Array(repeating: TensorFact(x.dataType, nil), count: outputCount) }
        let axis = try normalizedAxis(self.axis, rank: shape.count)
        var sizes = try attributeSplit ?? inputs.optional(1).map { try $0.indices(role: "split") ?? [] }
        if sizes == [] { sizes = nil }   // given, but not known before a run
        if sizes == nil, inputs.optional(1) == nil, let dim = shape[axis].fixedValue, outputCount > 0 {
            let part = (dim + outputCount - 1) / outputCount
            sizes = (0..<outputCount).map { max(0, min(part, dim - $0 * part)) }
        }
        return (0..<outputCount).map { index in
            var partShape = shape
            partShape[axis] = sizes.map { index < $0.count ? .fixed($0[index]) : .unknown } ?? .unknown
            return TensorFact(x.dataType, partShape)
        }
    }
}

extension Slice {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [TensorFact(x.dataType, nil)] }
        let starts: [Int], ends: [Int], givenAxes: [Int]?, steps: [Int]?
        if let attributes {
            (starts, ends, givenAxes, steps) = (attributes.starts, attributes.ends, attributes.axes, nil)
        } else {
            guard let knownStarts = try inputs.required(1).indices(role: "starts"),
                  let knownEnds = try inputs.required(2).indices(role: "ends") else {
                return [TensorFact(x.dataType, rank: shape.count)]
            }
            let axesInput = inputs.optional(3), stepsInput = inputs.optional(4)
            (starts, ends) = (knownStarts, knownEnds)
            givenAxes = try axesInput?.indices(role: "axes")
            steps = try stepsInput?.indices(role: "steps")
            if (axesInput != nil && givenAxes == nil) || (stepsInput != nil && steps == nil) {
                return [TensorFact(x.dataType, rank: shape.count)]
            }
        }
        // A sliced axis of a fixed size comes out exact (by `run`'s own arithmetic); a named one becomes unknown.
        let axes = try (givenAxes ?? Array(0..<starts.count)).map { try normalizedAxis($0, rank: shape.count) }
        var result = shape
        guard starts.count == ends.count, axes.count == starts.count, steps.map({ $0.count == starts.count }) ?? true,
              Set(axes).count == axes.count else {
            throw KernelError("starts, ends, axes and steps must have one value per sliced axis, without repeats")
        }
        for (i, axis) in axes.enumerated() {
            let s = min(max(steps?[i] ?? 1, -(1 << 40)), 1 << 40)
            guard s != 0 else { throw KernelError("steps must not be zero") }
            guard let dim = shape[axis].fixedValue else { result[axis] = .unknown; continue }
            result[axis] = .fixed(Self.window(dim: dim, start: starts[i], end: ends[i], step: s).length)
        }
        var out = TensorFact(x.dataType, result)
        if shape.count == 1, axes == [0], let elements = x.elements {   // a piece of a shape being built
            let s = min(max(steps?[0] ?? 1, -(1 << 40)), 1 << 40)
            let (start, length) = Self.window(dim: elements.count, start: starts[0], end: ends[0], step: s)
            out.elements = (0..<length).map { elements[start + $0 * s] }
        }
        return [out]
    }
}

extension Gather {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let data = try inputs.required(0), indices = try inputs.required(1)
        if let type = indices.dataType, type != .int64, type != .int32 { throw KernelError("indices must be int64 or int32, got \(type)") }
        guard let shape = data.shape, let indexShape = indices.shape else { return [TensorFact(data.dataType, nil)] }
        let axis = try normalizedAxis(self.axis, rank: shape.count)
        var out = TensorFact(data.dataType, Array(shape[..<axis]) + indexShape + Array(shape[(axis + 1)...]))
        // Picking from a shape being built: Gather(Shape(x), 0) is x's batch, named or not.
        if shape.count == 1, indexShape.count <= 1, let elements = data.elements, let picks = try indices.indices(role: "indices") {
            out.elements = try picks.map { pick in
                let index = pick < 0 ? pick + elements.count : pick
                guard index >= 0, index < elements.count else { throw KernelError("index \(pick) is out of range for dimension 0 of size \(elements.count)") }
                return elements[index]
            }
        }
        return [out]
    }
}

extension Pad {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [TensorFact(x.dataType, nil)] }
        guard let given = try attributePads ?? inputs.required(1).indices(role: "pads") else {
            return [TensorFact(x.dataType, rank: shape.count)]
        }
        let axesInput = inputs.optional(3)
        guard let axes = try axesInput.map({ try $0.indices(role: "axes") }) ?? Array(0..<shape.count) else {
            return [TensorFact(x.dataType, rank: shape.count)]
        }
        let normalized = try axes.map { try normalizedAxis($0, rank: shape.count) }
        guard given.count == 2 * normalized.count else { throw KernelError("pads has \(given.count) values for \(normalized.count) axes") }
        guard given.allSatisfy({ (-(1 << 31)...(1 << 31)).contains($0) }) else { throw KernelError("pads \(given) are out of range") }
        var result = shape
        for (i, axis) in normalized.enumerated() {
            let added = given[i] + given[normalized.count + i]
            guard added != 0 else { continue }
            guard let dim = shape[axis].fixedValue else { result[axis] = .unknown; continue }
            guard dim + added >= 0 else { throw KernelError("pads \(given) crop more than \(shapeDescription(shape)) holds") }
            result[axis] = .fixed(dim + added)
        }
        return [TensorFact(x.dataType, result)]
    }
}

extension Reduce {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        let axesInput = inputs.optional(1)
        guard let shape = x.shape else { return [TensorFact(x.dataType, nil)] }
        var axes: [Int]
        if let attributeAxes {
            axes = attributeAxes
        } else if let axesInput {
            guard let values = try axesInput.indices(role: "axes") else {
                return [TensorFact(x.dataType, keepDims ? Array(repeating: .unknown, count: shape.count) : nil)]
            }
            axes = values
        } else {
            axes = []
        }
        if axes.isEmpty {
            if noopWithEmptyAxes { return [x.sameShape] }
            axes = Array(0..<shape.count)
        }
        let reduced = Set(try axes.map { try normalizedAxis($0, rank: shape.count, allowingScalar: true) })
        let out = keepDims
            ? shape.enumerated().map { reduced.contains($0.offset) ? .fixed(1) : $0.element }
            : shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        return [TensorFact(x.dataType, out)]
    }
}

extension ArgExtreme {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard var shape = x.shape else { return [TensorFact(.int64, nil)] }
        let axis = try normalizedAxis(self.axis, rank: shape.count)
        if shape[axis] == .fixed(0) { throw KernelError("cannot take the arg\(isMax ? "max" : "min") of an empty axis") }
        if keepDims { shape[axis] = .fixed(1) } else { shape.remove(at: axis) }
        return [TensorFact(.int64, shape)]
    }
}
