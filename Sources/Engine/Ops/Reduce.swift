import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2,
/// ReduceLogSumExp: axes from the attribute (older opsets) or the second input, keepdims,
/// noop_with_empty_axes. Sums accumulate in Double.
struct Reduce: Operator {
    enum Kind: Sendable { case mean, sum, max, min, prod, sumSquare, l1, l2, logSumExp }
    let kind: Kind
    let attributeAxes: [Int]?
    let keepDims: Bool
    let noopWithEmptyAxes: Bool

    init(_ context: NodeContext, kind: Kind, axesAsInputSince: Int) throws {
        self.kind = kind
        attributeAxes = context.opset < axesAsInputSince ? try context.attributes.ints("axes") : nil
        keepDims = try context.attributes.flag("keepdims", default: true)
        noopWithEmptyAxes = try context.attributes.flag("noop_with_empty_axes", default: false)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let given = try inputs.required(0)
        var x = given
        let isBool = x.dataType == .bool
        if isBool { x = try convert(x, to: .int32, workspace) }
        try x.expect(.float, .int64, .int32, .double, role: "data")
        var axes = try attributeAxes ?? inputs.optional(1).map { try indexList($0, role: "axes") } ?? []
        if axes.isEmpty {
            if noopWithEmptyAxes { return [given] }   // as given: a bool input stays bool
            axes = Array(0..<x.rank)
        }
        let reduced = Set(try axes.map { try normalizedAxis($0, rank: x.rank, allowingScalar: true) })
        let keptShape = x.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let outShape = keepDims ? keptShape : x.shape.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        let outCount = keptShape.reduce(1, *)
        let out = try workspace.allocate(x.dataType, outShape)
        if x.dataType == .int64 || x.dataType == .int32, let result = reduceIntegers(x, isBool: isBool, keptShape: keptShape, outCount: outCount,
                                                                                    groupSize: reduced.reduce(1) { $0 * ($1 < x.rank ? x.shape[$1] : 1) }) {
            for i in 0..<outCount {
                if x.dataType == .int64 {
                    out.pointer(as: Int64.self)[i] = result[i]
                } else {
                    // The bool forms' max and min stay in 0...1 on their own.
                    out.pointer(as: Int32.self)[i] = Int32(truncatingIfNeeded: result[i])
                }
            }
            return [isBool ? try convert(out, to: .bool, workspace) : out]
        }
        var accumulator = [Double](repeating: initial, count: outCount)
        let values = x.dataType == .float ? nil : (0..<x.count).map { Double(x.int64OrDouble(at: $0)) }
        let px = x.pointer(as: Float.self)
        accumulator.withUnsafeMutableBufferPointer { acc in
            // Broadcasting the kept shape against the input maps each input element to its output slot.
            Broadcast.forEachRun(outShape: x.shape, inputShapes: [keptShape]) { o, offsets, strides, count in
                if values == nil, kind == .mean || kind == .sum {
                    // Float sums (a global average pool written as ReduceMean): a tight loop per run.
                    if strides[0] == 0 {
                        acc[offsets[0]] += ds_sum_f32(px + o, count)
                    } else {
                        for i in 0..<count { acc[offsets[0] + i * strides[0]] += Double(px[o + i]) }
                    }
                    return
                }
                for i in 0..<count {
                    let v = values?[o + i] ?? Double(px[o + i])
                    let target = offsets[0] + i * strides[0]
                    switch kind {
                    case .mean, .sum: acc[target] += v
                    case .max: acc[target] = Swift.max(acc[target], v)
                    case .min: acc[target] = Swift.min(acc[target], v)
                    case .prod: acc[target] *= v
                    case .sumSquare, .l2: acc[target] += v * v
                    case .l1: acc[target] += Swift.abs(v)
                    case .logSumExp: acc[target] += exp(v)
                    }
                }
            }
        }
        let groupSize = Double(Swift.max(1, reduced.reduce(1) { $0 * ($1 < x.rank ? x.shape[$1] : 1) }))
        for i in 0..<outCount {
            var v = accumulator[i]
            switch kind {
            case .mean: v /= groupSize
            case .l2: v = v.squareRoot()
            case .logSumExp: v = log(v)
            default: break
            }
            if isBool { v = Swift.min(Swift.max(v, 0), 1) }   // the max of no booleans is false, the min true
            switch x.dataType {
            case .float: out.pointer(as: Float.self)[i] = Float(v)
            case .double: out.pointer(as: Double.self)[i] = v
            case .int64: out.pointer(as: Int64.self)[i] = Int64(converting: v)
            default: out.pointer(as: Int32.self)[i] = Int32(converting: v)
            }
        }
        return [isBool ? try convert(out, to: .bool, workspace) : out]
    }

    /// Sum, mean, product, sum of squares, L1, max and min of int32/int64 data, exactly and
    /// wrapping in two's complement as ONNX integer arithmetic does (a Double accumulator rounds
    /// int64 values above 2^53). Int32 results are the low 32 bits of the Int64 ones, which is
    /// what wrapping int32 arithmetic gives. Nil for the kinds that need floating point.
    private func reduceIntegers(_ x: Tensor, isBool: Bool, keptShape: [Int], outCount: Int, groupSize: Int) -> [Int64]? {
        // The max of nothing is the type's least value and the min its greatest (false and true for bool).
        let (least, greatest): (Int64, Int64) = isBool ? (0, 1) : x.dataType == .int64 ? (.min, .max) : (Int64(Int32.min), Int64(Int32.max))
        let initial: Int64
        switch kind {
        case .sum, .mean, .sumSquare, .l1: initial = 0
        case .prod: initial = 1
        case .max: initial = least
        case .min: initial = greatest
        case .l2, .logSumExp: return nil
        }
        var accumulator = [Int64](repeating: initial, count: outCount)
        let wide = x.dataType == .int64
        let p64 = x.pointer(as: Int64.self), p32 = x.pointer(as: Int32.self)
        let narrowMean = !wide && kind == .mean
        accumulator.withUnsafeMutableBufferPointer { acc in
            Broadcast.forEachRun(outShape: x.shape, inputShapes: [keptShape]) { o, offsets, strides, count in
                for i in 0..<count {
                    let v = wide ? p64[o + i] : Int64(p32[o + i])
                    let target = offsets[0] + i * strides[0]
                    switch kind {
                    case .sum, .mean: acc[target] = acc[target] &+ v
                    case .prod: acc[target] = acc[target] &* v
                    case .sumSquare: acc[target] = acc[target] &+ (v &* v)
                    case .l1: acc[target] = acc[target] &+ (v < 0 ? 0 &- v : v)
                    case .max: acc[target] = Swift.max(acc[target], v)
                    case .min: acc[target] = Swift.min(acc[target], v)
                    case .l2, .logSumExp: break
                    }
                }
            }
        }
        if kind == .mean, groupSize > 0 {
            // The mean divides the sum as the element type holds it (an int32 sum wraps at 32 bits).
            let divisor = Int64(groupSize)
            for i in accumulator.indices {
                let sum = narrowMean ? Int64(Int32(truncatingIfNeeded: accumulator[i])) : accumulator[i]
                accumulator[i] = sum.dividedReportingOverflow(by: divisor).partialValue
            }
        }
        return accumulator
    }

    private var initial: Double {
        switch kind {
        case .max: -.infinity
        case .min: .infinity
        case .prod: 1
        default: 0
        }
    }
}

/// ArgMax and ArgMin along one axis → int64.
struct ArgExtreme: Operator {
    let isMax: Bool
    let axis: Int
    let keepDims: Bool
    let selectLastIndex: Bool

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let axis = try normalizedAxis(self.axis, rank: x.rank)
        let dim = x.shape[axis]
        guard dim > 0 else { throw KernelError("cannot take the arg\(isMax ? "max" : "min") of an empty axis") }
        let outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
        var shape = x.shape
        if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
        let out = try workspace.allocate(.int64, shape)
        if out.count == 0 { return [out] }
        let values = x.floatArray()
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                for j in 1..<dim {
                    let v = values[(o * dim + j) * inner + i], b = values[(o * dim + best) * inner + i]
                    let better = isMax ? (v > b || (selectLastIndex && v == b)) : (v < b || (selectLastIndex && v == b))
                    if better { best = j }
                }
                out.pointer(as: Int64.self)[o * inner + i] = Int64(best)
            }
        }
        return [out]
    }
}

extension Tensor {
    /// Element `i` as Double, exact for int32 and for int64 up to 2^53.
    func int64OrDouble(at i: Int) -> Double {
        switch dataType {
        case .double: pointer(as: Double.self)[i]
        case .float: Double(pointer(as: Float.self)[i])
        case .uint64: Double(pointer(as: UInt64.self)[i])
        default: Double(int64Element(at: i))
        }
    }
}
