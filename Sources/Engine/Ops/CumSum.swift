/// CumSum: running sums along an axis (given as a scalar input), optionally exclusive (each sum
/// leaves its own element out) and reversed (summing from the end). Integers wrap.
struct CumSum: Operator {
    let exclusive: Bool
    let reverse: Bool

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let axisTensor = try inputs.required(1)
        try axisTensor.expect(.int64, .int32, role: "axis")
        guard axisTensor.count == 1, axisTensor.rank <= 1 else { throw KernelError("axis must be a scalar, is \(axisTensor.shape)") }
        let axis = try normalizedAxis(Int(clamping: axisTensor.int64Element(at: 0)), rank: x.rank)
        let out = try workspace.allocate(x.dataType, x.shape)
        if out.count == 0 { return [out] }
        try dispatchNumeric(x.dataType, Visitor(x: x, out: out, axis: axis, exclusive: exclusive, reverse: reverse, workspace: workspace))
        return [out]
    }

    private struct Visitor: NumericVisitor {
        let x: Tensor, out: Tensor, axis: Int, exclusive: Bool, reverse: Bool, workspace: Workspace
        func visit<T: NumericElement>(_ type: T.Type) throws {
            let dim = x.shape[axis], outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
            let src = x.pointer(as: T.self), dst = out.pointer(as: T.self)
            for o in 0..<outer {
                try workspace.checkpoint()
                for i in 0..<inner {
                    var sum = T.zero
                    for step in 0..<dim {
                        let j = reverse ? dim - 1 - step : step
                        let index = (o * dim + j) * inner + i
                        if exclusive {
                            dst[index] = sum
                            sum = T.add(sum, src[index])
                        } else {
                            sum = T.add(sum, src[index])
                            dst[index] = sum
                        }
                    }
                }
            }
        }
    }
}
