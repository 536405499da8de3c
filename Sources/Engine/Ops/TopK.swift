/// TopK: the k largest (or smallest) elements along an axis and their int64 indices, sorted, ties
/// broken by the lower index (as onnxruntime does). NaN counts as larger than every number.
struct TopK: Operator {
    let axis: Int
    let largest: Bool
    /// Opset 1 gives k as an attribute; later opsets as the second input.
    let attributeK: Int?

    init(_ context: NodeContext) throws {
        axis = try context.attributes.int("axis", default: -1)
        largest = try context.attributes.flag("largest", default: true)
        _ = try context.attributes.flag("sorted", default: true)   // unsorted output may be in any order: always sorted
        attributeK = context.opset < 10 ? try context.attributes.int("k") : nil
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        let axis = try normalizedAxis(self.axis, rank: x.rank)
        let k: Int
        if let attributeK { k = attributeK } else {
            let given = try indexList(try inputs.required(1), role: "K")
            guard given.count == 1 else { throw KernelError("K must hold one value, holds \(given.count)") }
            k = given[0]
        }
        let dim = x.shape[axis]
        guard k >= 0, k <= dim else { throw KernelError("K \(k) is out of range for axis \(axis) of size \(dim)") }
        var shape = x.shape
        shape[axis] = k
        let values = try workspace.allocate(x.dataType, shape), indices = try workspace.allocate(.int64, shape)
        if values.count == 0 { return [values, indices] }
        try dispatchNumeric(x.dataType, Visitor(x: x, axis: axis, k: k, largest: largest, values: values, indices: indices, workspace: workspace))
        return [values, indices]
    }

    private struct Visitor: NumericVisitor {
        let x: Tensor, axis: Int, k: Int, largest: Bool, values: Tensor, indices: Tensor, workspace: Workspace
        func visit<T: NumericElement>(_ type: T.Type) throws {
            let dim = x.shape[axis], outer = x.shape[..<axis].reduce(1, *), inner = x.shape[(axis + 1)...].reduce(1, *)
            let src = x.pointer(as: T.self), dst = values.pointer(as: T.self), positions = indices.pointer(as: Int64.self)
            let largest = self.largest
            var order = [Int](repeating: 0, count: dim)
            for o in 0..<outer {
                try workspace.checkpoint()
                for i in 0..<inner {
                    if i & 0xFF == 0xFF { try workspace.checkpoint() }
                    let base = o * dim * inner + i
                    for j in 0..<dim { order[j] = j }
                    // A strict total order: NaN (x != x) above everything, then the lower index first.
                    order.sort { a, b in
                        let va = src[base + a * inner], vb = src[base + b * inner]
                        let nanA = va != va, nanB = vb != vb
                        if nanA || nanB {
                            if nanA && nanB { return a < b }
                            return largest ? nanA : nanB
                        }
                        if va == vb { return a < b }
                        return largest ? va > vb : va < vb
                    }
                    for j in 0..<k {
                        let target = (o * k + j) * inner + i
                        dst[target] = src[base + order[j] * inner]
                        positions[target] = Int64(order[j])
                    }
                }
            }
        }
    }
}
