/// Shape rules of the element-wise operators: an output of the input's shape, or of the inputs' shapes broadcast.

extension TensorFact {
    /// The fact of an element-wise result of `inputs` (broadcast together) with element type `dataType`.
    static func broadcasting(_ inputs: [TensorFact], dataType: DataType?) throws -> TensorFact {
        let shapes = inputs.compactMap(\.shape)
        guard shapes.count == inputs.count else { return TensorFact(dataType, nil) }
        return TensorFact(dataType, try FactBroadcast.shape(shapes))
    }
}

/// An operator whose single output has the first input's shape and type.
protocol ShapePreserving: Operator {}

extension ShapePreserving {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [try inputs.required(0).sameShape]
    }
}

extension ActivationOp: ShapePreserving {}
extension UnaryFloat: ShapePreserving {}
extension SignedUnary: ShapePreserving {}
extension Clip: ShapePreserving {}
extension Softmax: ShapePreserving {}
extension LRN: ShapePreserving {}
extension BatchNormalization: ShapePreserving {}
extension InstanceNormalization: ShapePreserving {}
extension GroupNormalization: ShapePreserving {}
extension Hardmax: ShapePreserving {}
extension CumSum: ShapePreserving {}
extension Trilu: ShapePreserving {}

extension LogicalNot {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? { [try inputs.required(0).with(.bool)] }
}

extension FloatClassification {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? { [try inputs.required(0).with(.bool)] }
}

extension Cast {
    /// Between integer types a shape being built keeps its named elements.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        var out = x.with(to)
        if [.int64, .int32].contains(to) { out.elements = x.elements }
        return [out]
    }
}

extension CastLike {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [try inputs.required(0).with(try inputs.required(1).dataType)]
    }
}

extension PRelu {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        return [try .broadcasting([x, try inputs.required(1)], dataType: x.dataType)]
    }
}

extension BinaryArithmetic {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let a = try inputs.required(0), b = try inputs.required(1)
        let isPow = if case .pow = kind { true } else { false }   // Pow allows an exponent of another type
        if !isPow, let typeA = a.dataType, let typeB = b.dataType, typeA != typeB {
            throw KernelError("inputs have different element types: \(typeA) and \(typeB)")
        }
        return [try .broadcasting([a, b], dataType: isPow ? a.dataType : a.dataType ?? b.dataType)]
    }
}

extension VariadicArithmetic {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let operands = inputs.compactMap { $0 }
        guard let first = operands.first else { throw KernelError("needs at least one input") }
        return [try .broadcasting(operands, dataType: first.dataType)]
    }
}

extension Comparison {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [try .broadcasting([try inputs.required(0), try inputs.required(1)], dataType: .bool)]
    }
}

extension LogicalBinary {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        [try .broadcasting([try inputs.required(0), try inputs.required(1)], dataType: .bool)]
    }
}

extension Where {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(1)
        return [try .broadcasting([try inputs.required(0), x, try inputs.required(2)], dataType: x.dataType)]
    }
}

/// Identity, and Dropout's optional mask.
extension Identity {
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        return outputCount > 1 ? [x, x.with(.bool)] : [x]
    }
}

extension LayerNormalization {
    /// Y, then Mean and InvStdDev with the normalised axes kept at size 1.
    func outputFacts(_ inputs: [TensorFact?]) throws -> [TensorFact]? {
        let x = try inputs.required(0)
        guard let shape = x.shape else { return [x.sameShape, .unknown, .unknown] }
        let axis = try normalizedAxis(self.axis, rank: shape.count, allowingScalar: true)
        let statistics = TensorFact(.float, Array(shape[..<axis]) + Array(repeating: .fixed(1), count: shape.count - axis))
        return [x.sameShape, statistics, statistics]
    }
}
