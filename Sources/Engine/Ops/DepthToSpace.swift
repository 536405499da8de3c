/// DepthToSpace and SpaceToDepth on [N, C, H, W]: blocks of `blocksize`² channels become
/// `blocksize`×`blocksize` pixel blocks and back, with the channel order of DCR (depth, column,
/// row: the default) or CRD. Each is one 6-d transpose; any element type.
struct BlockRearrange: Operator {
    enum Direction: Sendable { case depthToSpace, spaceToDepth }
    let direction: Direction
    let blocksize: Int
    let columnRowDepth: Bool

    init(_ context: NodeContext, direction: Direction) throws {
        self.direction = direction
        guard let blocksize = try context.attributes.int("blocksize") else { throw context.invalid("blocksize", "is required") }
        guard blocksize >= 1, blocksize <= 1 << 20 else { throw context.invalid("blocksize", "must be in 1...2^20, is \(blocksize)") }
        self.blocksize = blocksize
        let mode = try context.attributes.string("mode", default: "DCR")
        guard mode == "DCR" || mode == "CRD" else { throw context.invalid("mode", "must be DCR or CRD, is '\(mode)'") }
        columnRowDepth = mode == "CRD"
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        guard x.rank == 4 else { throw KernelError("input must be 4-d [N, C, H, W], is \(x.shape)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), b = blocksize
        let split: [Int], perm: [Int], final: [Int]
        switch direction {
        case .depthToSpace:
            guard c % (b * b) == 0 else { throw KernelError("channels \(c) are not a multiple of blocksize² (\(b * b))") }
            let depth = c / (b * b)
            split = columnRowDepth ? [n, depth, b, b, h, w] : [n, b, b, depth, h, w]
            perm = columnRowDepth ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]
            final = [n, depth, try checkedProduct(h, b), try checkedProduct(w, b)]
        case .spaceToDepth:
            guard h % b == 0, w % b == 0 else { throw KernelError("height \(h) and width \(w) are not multiples of blocksize \(b)") }
            split = [n, c, h / b, b, w / b, b]
            perm = columnRowDepth ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]
            final = [n, try checkedProduct(c, b * b), h / b, w / b]
        }
        let out = try workspace.allocate(x.dataType, final)
        if out.count == 0 { return [out] }
        let strides = contiguousStrides(split)
        stridedCopy(from: x.storage.bytes, offset: 0, strides: perm.map { strides[$0] }, shape: perm.map { split[$0] },
                    elementSize: x.dataType.size, to: out.storage.bytes)
        return [out]
    }
}

/// `a · b`, or an error where the product of two dimensions overflows (an empty tensor may claim
/// huge ones).
func checkedProduct(_ a: Int, _ b: Int) throws -> Int {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    guard !overflow else { throw KernelError("\(a) · \(b) elements are more than can be counted") }
    return product
}
