/// Einsum: sums of products named by an equation such as "bij,bjk->bik" — explicit or implicit
/// output, one "..." per term for broadcast leading axes, repeated labels in a term for diagonals.
/// Two float32 operands that only share summed labels run as a batched GEMM (`EinsumMatMul`);
/// everything else as one checked loop over the output and the summed labels.
struct Einsum: Operator {
    let equation: EinsumEquation

    init(_ context: NodeContext) throws {
        guard let text = try context.attributes.string("equation") else { throw context.invalid("equation", "is required") }
        do { equation = try EinsumEquation(text) } catch let error as KernelError { throw context.invalid("equation", error.reason) }
        guard equation.terms.count == context.inputCount else {
            throw context.invalid("equation", "has \(equation.terms.count) input terms for \(context.inputCount) inputs")
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let operands = try (0..<equation.terms.count).map { try inputs.required($0) }
        guard let type = operands.first?.dataType, operands.allSatisfy({ $0.dataType == type }) else {
            throw KernelError("inputs must share one element type")
        }
        let plan = try equation.resolve(operands.map(\.shape))
        let out = try workspace.allocate(type, plan.outputSizes)
        if out.count == 0 { return [out] }
        if type == .float, let product = EinsumMatMul(plan) {
            try product.run(operands, out, workspace)
            return [out]
        }
        try dispatchNumeric(type, Visitor(operands: operands, plan: plan, out: out, workspace: workspace))
        return [out]
    }

    private struct Visitor: NumericVisitor {
        let operands: [Tensor], plan: EinsumEquation.LoopPlan, out: Tensor, workspace: Workspace
        func visit<T: NumericElement>(_ type: T.Type) throws {
            let pointers = operands.map { $0.pointer(as: T.self) }, dst = out.pointer(as: T.self)
            let count = operands.count, outputAxes = plan.outputSizes.count, sizes = plan.outputSizes + plan.summedSizes
            let summed = plan.summedSizes.reduce(1, *)   // resolve checked that outputs · summed fits an Int
            var base = [Int](repeating: 0, count: count), offsets = base
            var outCoordinate = [Int](repeating: 0, count: outputAxes), sumCoordinate = [Int](repeating: 0, count: plan.summedSizes.count)
            var steps = 0
            /// Steps `coordinate` (loop axes `first…`) and the offsets that follow it, last axis fastest.
            func advance(_ coordinate: inout [Int], first: Int, _ offsets: inout [Int]) {
                var axis = coordinate.count - 1
                while axis >= 0 {
                    coordinate[axis] += 1
                    for k in 0..<count { offsets[k] += plan.strides[k][first + axis] }
                    if coordinate[axis] < sizes[first + axis] { return }
                    for k in 0..<count { offsets[k] -= plan.strides[k][first + axis] * sizes[first + axis] }
                    coordinate[axis] = 0
                    axis -= 1
                }
            }
            for o in 0..<out.count {
                offsets = base
                var sum = T.zero
                for _ in 0..<summed {
                    steps &+= 1
                    if steps & 0xFFFF == 0 { try workspace.checkpoint() }
                    var product: T = 1
                    for k in 0..<count { product = T.multiply(product, pointers[k][offsets[k]]) }
                    sum = T.add(sum, product)
                    advance(&sumCoordinate, first: outputAxes, &offsets)
                }
                dst[o] = sum
                advance(&outCoordinate, first: 0, &base)
            }
        }
    }
}
