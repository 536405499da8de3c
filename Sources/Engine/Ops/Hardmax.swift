/// Hardmax: 1 at the first largest element along the axis, 0 elsewhere. Before opset 13 the input
/// is seen as 2-d, the axes from `axis` on flattened into one (as Softmax).
struct Hardmax: Operator {
    let axis: Int
    let flattensTrailingAxes: Bool

    init(_ context: NodeContext) throws {
        flattensTrailingAxes = context.opset < 13
        axis = try context.attributes.int("axis", default: context.opset < 13 ? 1 : -1)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let given = try inputs.required(0)
        try given.expect(.float, .double, role: "input")
        let x = given.rank == 0 ? given.reshaped([1]) : given
        let axis = try normalizedAxis(self.axis, rank: x.rank)
        let out = try workspace.allocate(x.dataType, x.shape)
        if out.count == 0 { return [out.reshaped(given.shape)] }
        out.storage.bytes.initializeMemory(as: UInt8.self, repeating: 0, count: out.byteCount)
        let (outer, length, inner): (Int, Int, Int) = flattensTrailingAxes
            ? (x.shape[..<axis].reduce(1, *), x.shape[axis...].reduce(1, *), 1)
            : (x.shape[..<axis].reduce(1, *), x.shape[axis], x.shape[(axis + 1)...].reduce(1, *))
        let values = x.doubleArray(), isFloat = x.dataType == .float
        for o in 0..<outer {
            try workspace.checkpoint()
            for i in 0..<inner {
                let base = o * length * inner + i
                var best = 0
                for j in 1..<length where values[base + j * inner] > values[base + best * inner] { best = j }
                if isFloat { out.pointer(as: Float.self)[base + best * inner] = 1 } else { out.pointer(as: Double.self)[base + best * inner] = 1 }
            }
        }
        return [out.reshaped(given.shape)]
    }
}
