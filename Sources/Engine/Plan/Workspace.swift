/// Scratch memory owned by one runner (a worker thread): intermediate tensors are allocated from
/// it, and given back to it when the plan's memory plan says their last reader has run.
///
/// Reusing a `Workspace` across runs of the same plan makes steady-state inference allocate
/// almost nothing. A workspace is not thread-safe: give each thread its own.
public final class Workspace {
    /// Free blocks, sorted by capacity (ascending) for best-fit reuse.
    private var free: [TensorStorage] = []
    /// Upper bound on pooled bytes, so one huge request doesn't pin its memory forever.
    private let maximumPooledBytes: Int
    private var pooledBytes = 0

    /// Bytes currently held for reuse.
    public var pooledByteCount: Int { pooledBytes }

    public init(maximumPooledBytes: Int = 512 << 20) {
        self.maximumPooledBytes = maximumPooledBytes
    }

    /// The most one tensor may hold: shapes computed from a model's data (Reshape, Expand, Tile,
    /// ConstantOfShape, Resize…) are checked against it instead of trusted.
    public static let maximumTensorBytes = 8 << 30

    /// An uninitialised tensor, reusing pooled memory when a block fits without wasting more than half.
    /// Throws (rather than trapping) when the shape is negative, overflows or is absurdly large.
    func allocate(_ dataType: DataType, _ shape: [Int]) throws -> Tensor {
        let needed = try checkedElementCount(shape) * dataType.size
        guard needed <= Self.maximumTensorBytes else {
            throw KernelError("a \(dataType) tensor of shape \(shape) would need \(needed) bytes, more than the \(Self.maximumTensorBytes)-byte limit")
        }
        if let index = bestFit(needed) {
            let storage = free.remove(at: index)
            pooledBytes -= storage.byteCount
            return Tensor(dataType: dataType, shape: shape, storage: storage)
        }
        return Tensor(dataType: dataType, shape: shape, storage: TensorStorage(byteCount: needed))
    }

    /// Offers a tensor's memory back; kept only if nothing else references it.
    func recycle(_ tensor: inout Tensor) {
        guard isKnownUniquelyReferenced(&tensor.storage) else { return }
        let storage = tensor.storage
        guard storage.byteCount >= 64, pooledBytes + storage.byteCount <= maximumPooledBytes else { return }
        let index = free.firstIndex { $0.byteCount >= storage.byteCount } ?? free.endIndex
        free.insert(storage, at: index)
        pooledBytes += storage.byteCount
    }

    private func bestFit(_ needed: Int) -> Int? {
        guard let index = free.firstIndex(where: { $0.byteCount >= needed }) else { return nil }
        return free[index].byteCount <= max(needed * 2, 4096) ? index : nil
    }
}

/// The element count of a shape, or an error if a dimension is negative or the product overflows.
func checkedElementCount(_ shape: [Int]) throws -> Int {
    var count = 1
    for dim in shape {
        guard dim >= 0 else { throw KernelError("shape \(shape) has a negative dimension") }
        let (product, overflow) = count.multipliedReportingOverflow(by: dim)
        guard !overflow else { throw KernelError("shape \(shape) has more elements than can be counted") }
        count = product
    }
    return count
}
