/// What static shape inference knows about one value without running the model: its element type, its shape (each
/// dimension fixed, named like a dynamic batch `N`, or unknown), and for small tensors computed from shapes alone
/// (`Shape`, the arithmetic exporters build on it) the value itself.
///
/// Facts are what operators answer in `Operator.outputFacts`: a rule states what it can prove and leaves the rest
/// unknown, so a graph with a symbolic batch still infers `[N, 1000]` for its logits.
public struct TensorFact: Sendable, CustomStringConvertible {
    /// nil when not known.
    public var dataType: DataType?
    /// nil when not even the rank is known.
    public var shape: [Dimension]?
    /// The value itself, when known before a run (constants, and shape arithmetic on fixed dimensions).
    var value: Tensor?
    /// The elements of a small integer tensor that holds a shape being built, when only some are known: `Shape` of
    /// `[N, 3]` is `[N, 3]` before any run knows N. Gather, Slice, Concat, Unsqueeze and Cast carry them on to the
    /// Reshape that reads them. A scalar holds one element.
    var elements: [Dimension]?

    public static let unknown = TensorFact(dataType: nil, shape: nil)

    public init(dataType: DataType?, shape: [Dimension]?) {
        self.dataType = dataType
        self.shape = shape
    }

    /// The fact of a tensor whose value is known.
    init(known tensor: Tensor) {
        dataType = tensor.dataType
        shape = tensor.shape.map { .fixed($0) }
        value = tensor
    }

    init(_ dataType: DataType?, _ shape: [Dimension]?) {
        self.init(dataType: dataType, shape: shape)
    }

    /// A fact of rank `rank` with no dimension known.
    init(_ dataType: DataType?, rank: Int?) {
        self.init(dataType: dataType, shape: rank.map { Array(repeating: .unknown, count: $0) })
    }

    public var rank: Int? { shape?.count }

    /// The elements of a small integer tensor of rank 0 or 1 as dimensions: from the known value, else `elements`.
    var elementDimensions: [Dimension]? {
        if let value, value.dataType == .int64 || value.dataType == .int32, value.rank <= 1 {
            return value.int64Array().map { .fixed(Int(clamping: $0)) }
        }
        return elements
    }

    /// A 1-d (or, with `scalar`, 0-d) int64 fact whose elements are `dims`.
    static func shapeValue(_ dims: [Dimension], scalar: Bool = false) -> TensorFact {
        var fact = TensorFact(.int64, scalar ? [] : [.fixed(dims.count)])
        fact.elements = dims
        return fact
    }

    /// The shape when every dimension is fixed.
    public var fixedShape: [Int]? { shape?.fixedValues }

    /// This fact with another element type (the shape kept, the value dropped).
    func with(_ dataType: DataType?) -> TensorFact { TensorFact(dataType, shape) }

    /// The type and shape of a result computed from this value element by element (the value itself dropped).
    var sameShape: TensorFact { with(dataType) }

    public var description: String {
        let type = dataType?.description ?? "?"
        guard let shape else { return "\(type) [unknown rank]" }
        return "\(type) [" + shape.map(\.description).joined(separator: ", ") + "]"
    }
}

extension Dimension {
    /// Two dimensions that must be equal: the more precise of the two; throws when both are fixed and differ.
    func unified(with other: Dimension, _ what: @autoclosure () -> String) throws -> Dimension {
        switch (self, other) {
        case (.fixed(let a), .fixed(let b)):
            guard a == b else { throw KernelError("\(what()): \(a) and \(b) differ") }
            return self
        case (.fixed, _): return self
        case (_, .fixed): return other
        case (.symbolic(let a), .symbolic(let b)) where a == b: return self
        case (.symbolic, .unknown): return self
        case (.unknown, .symbolic): return other
        default: return .unknown
        }
    }

    /// The product of two dimensions: fixed when both are, one of them when the other is 1.
    static func * (lhs: Dimension, rhs: Dimension) -> Dimension {
        switch (lhs, rhs) {
        case (.fixed(1), _): return rhs
        case (_, .fixed(1)): return lhs
        case (.fixed(0), _), (_, .fixed(0)): return .fixed(0)
        case (.fixed(let a), .fixed(let b)):
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? .unknown : .fixed(product)
        default: return .unknown
        }
    }
}

extension Array where Element == TensorFact? {
    /// The fact of input `index`, which the operator cannot do without.
    func required(_ index: Int) throws -> TensorFact {
        guard index < count, let fact = self[index] else { throw KernelError("input \(index) is required") }
        return fact
    }

    func optional(_ index: Int) -> TensorFact? { index < count ? self[index] : nil }
}

extension Array where Element == Dimension {
    /// The element count when every dimension is fixed (nil on overflow too).
    var fixedCount: Int? {
        var count = 1
        for dim in self {
            guard let value = dim.fixedValue else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: value)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// The sizes when every dimension is fixed.
    var fixedValues: [Int]? {
        var values: [Int] = []
        for dim in self {
            guard let value = dim.fixedValue else { return nil }
            values.append(value)
        }
        return values
    }

    /// The product of all dimensions (fixed only when every factor is, or the others are 1).
    var product: Dimension { reduce(.fixed(1), *) }
}

/// Broadcasting on facts: aligned from the right; a fixed 1 stretches; a dimension fixed above 1 wins over a named or
/// unknown one (which can only be 1 or that size); two different names make an unknown.
enum FactBroadcast {
    static func shape(_ shapes: [[Dimension]]) throws -> [Dimension] {
        let rank = shapes.map(\.count).max() ?? 0
        var result = Array(repeating: Dimension.fixed(1), count: rank)
        for shape in shapes {
            let offset = rank - shape.count
            for (i, dim) in shape.enumerated() {
                result[offset + i] = try combine(result[offset + i], dim, shapes)
            }
        }
        return result
    }

    private static func combine(_ a: Dimension, _ b: Dimension, _ shapes: [[Dimension]]) throws -> Dimension {
        switch (a, b) {
        case (.fixed(1), _): return b
        case (_, .fixed(1)): return a
        case (.fixed(let x), .fixed(let y)):
            guard x == y else {
                throw KernelError("shapes \(shapes.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" }.joined(separator: " and ")) do not broadcast")
            }
            return a
        case (.fixed, _): return a
        case (_, .fixed): return b
        case (.symbolic(let x), .symbolic(let y)) where x == y: return a
        default: return .unknown
        }
    }
}
