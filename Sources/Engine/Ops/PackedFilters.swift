/// A convolution's filters, when they are a constant: checked at load and packed for the GEMM,
/// one matrix per group. Shared by Conv and ConvTranspose, which differ only in how a group's
/// slice of the weight becomes the GEMM's left operand.
struct PackedFilters: Sendable {
    let matrices: [PackedMatrix]
    let shape: [Int]

    /// The packed matrices, if `weight` is the tensor they were packed from.
    func matching(_ weight: Tensor) -> [PackedMatrix]? { shape == weight.shape ? matrices : nil }

    /// Reads `group`, checks a constant weight's rank (N × C × kernel…) and packs
    /// each group's slice with `pack(source, slice length)`. Returns nil filters for a weight
    /// given at run time.
    /// The node's `group` attribute, checked.
    static func group(_ context: NodeContext) throws -> Int {
        let group = try context.attributes.int("group", default: 1)
        guard (1...(1 << 24)).contains(group) else { throw context.invalid("group", "must be in 1...\(1 << 24), is \(group)") }
        return group
    }

    static func load(_ context: NodeContext, pack: (UnsafePointer<Float>, _ sliceCount: Int) -> PackedMatrix)
        throws -> (group: Int, filters: PackedFilters?)
    {
        let group = try Self.group(context)
        guard let weight = context.constantInputs.count > 1 ? context.constantInputs[1] : nil else { return (group, nil) }
        guard weight.rank >= 3 else {
            throw EngineError.unsupportedOperator(
                opType: "\(context.opType) (\(weight.rank - 2)-d)", domain: context.domain, opset: context.opset, node: context.name)
        }
        guard weight.dataType == .float, weight.shape[0] % group == 0 else { return (group, nil) }
        let slice = weight.count / group, source = weight.pointer(as: Float.self)
        let matrices = (0..<group).map { pack(source + $0 * slice, slice) }
        return (group, PackedFilters(matrices: matrices, shape: weight.shape))
    }
}
