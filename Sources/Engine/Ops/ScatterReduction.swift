/// How ScatterElements and ScatterND combine an update with the element already there.
enum ScatterReduction: String, Sendable {
    case none, add, mul, max, min

    init(_ context: NodeContext) throws {
        let name = try context.attributes.string("reduction", default: "none")
        guard let reduction = ScatterReduction(rawValue: name) else {
            throw context.invalid("reduction", "must be none, add, mul, max or min, is '\(name)'")
        }
        self = reduction
    }

    /// Writes `updates` slice by slice into `out` (already a copy of the data): slice `j` of
    /// `sliceLength` elements goes to the element offset `targets[j]`, in order, so later updates
    /// of the same place win (none) or combine with earlier ones.
    func apply(_ updates: Tensor, to out: Tensor, targets: [Int], sliceLength: Int, _ workspace: Workspace) throws {
        if self == .none {
            let size = out.dataType.size, bytes = sliceLength * size
            for (j, target) in targets.enumerated() {
                (out.storage.bytes + target * size).copyMemory(from: updates.storage.bytes + j * bytes, byteCount: bytes)
            }
            return
        }
        try dispatchNumeric(out.dataType, Visitor(reduction: self, updates: updates, out: out, targets: targets, sliceLength: sliceLength))
    }

    private struct Visitor: NumericVisitor {
        let reduction: ScatterReduction, updates: Tensor, out: Tensor, targets: [Int], sliceLength: Int
        func visit<T: NumericElement>(_ type: T.Type) throws {
            let src = updates.pointer(as: T.self), dst = out.pointer(as: T.self)
            for (j, target) in targets.enumerated() {
                for i in 0..<sliceLength {
                    let a = dst[target + i], u = src[j * sliceLength + i]
                    switch reduction {
                    case .none: dst[target + i] = u
                    case .add: dst[target + i] = T.add(a, u)
                    case .mul: dst[target + i] = T.multiply(a, u)
                    case .max: dst[target + i] = Swift.max(a, u)
                    case .min: dst[target + i] = Swift.min(a, u)
                    }
                }
            }
        }
    }
}

/// A fresh copy of `tensor` that a scatter can write into.
func mutableCopy(_ tensor: Tensor, _ workspace: Workspace) throws -> Tensor {
    let out = try workspace.allocate(tensor.dataType, tensor.shape)
    if out.byteCount > 0 { out.storage.bytes.copyMemory(from: tensor.storage.bytes, byteCount: out.byteCount) }
    return out
}
