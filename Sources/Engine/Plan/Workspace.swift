import CKernels
import Dispatch

/// Scratch memory owned by one runner (a worker thread): intermediate tensors are allocated from
/// it, and given back to it when the plan's memory plan says their last reader has run.
///
/// Reusing a `Workspace` across runs of the same plan makes steady-state inference allocate
/// almost nothing. A workspace is not thread-safe: give each thread its own.
public final class Workspace {
    /// Free blocks, sorted by capacity (ascending) for best-fit reuse.
    private var free: [TensorStorage] = []
    /// Upper bound on pooled bytes during a run.
    private let maximumPooledBytes: Int
    /// What the pool is trimmed to after each run at least, so one huge request doesn't pin its memory.
    public let retainedBytesAfterRun: Int
    private var pooledBytes = 0
    /// What the previous run left pooled: two runs in a row that need more than `retainedBytesAfterRun` keep it.
    private var previousRunBytes = 0

    /// The limits of the run in progress, and the bytes its tensors hold now (an upper bound:
    /// a kernel's scratch that is dropped rather than recycled counts until the run ends).
    private var limits = RunLimits.none
    private var liveBytes = 0
    /// Helper threads the runs of this workspace's owner may compute on (created at the first run that asks for
    /// more than one thread, grown when a run asks for more).
    private var pool: OpaquePointer?

    /// Bytes currently held for reuse.
    public var pooledByteCount: Int { pooledBytes }

    /// - Parameters:
    ///   - maximumPooledBytes: the most the pool holds while a run is in progress. Blocks past it are freed, and a
    ///     tensor of 32 MiB or more comes from mmap, so the next run that needs one faults it in again, page by page:
    ///     at 512 MiB DenseNet-121 at batch 32 (its concatenations grow by one layer's channels at a time, so few
    ///     blocks fit the next need) faulted 680 MB in every run, about 12 % of its time; at 2 GiB it faults nothing
    ///     after the first run, and its peak resident memory fell from 1.0 to 0.7 GB (fewer blocks freed and made again).
    ///   - retainedBytesAfterRun: the watermark the pool is trimmed down to when a run ends.
    public init(maximumPooledBytes: Int = 2048 << 20, retainedBytesAfterRun: Int = 64 << 20) {
        self.maximumPooledBytes = maximumPooledBytes
        self.retainedBytesAfterRun = retainedBytesAfterRun
    }

    /// The most one tensor may hold: shapes computed from a model's data (Reshape, Expand, Tile,
    /// ConstantOfShape, Resize…) are checked against it instead of trusted.
    public static let maximumTensorBytes = 8 << 30

    /// An uninitialised tensor, reusing pooled memory when a block fits without wasting more than half.
    /// Throws (rather than trapping) when the shape is negative, overflows, is absurdly large or
    /// would take the run past its `maxBytes`.
    func allocate(_ dataType: DataType, _ shape: [Int]) throws -> Tensor {
        let needed = try checkedByteCount(shape, dataType)
        guard needed <= Self.maximumTensorBytes else {
            throw KernelError("a \(dataType) tensor of shape \(shape) would need \(needed) bytes, more than the \(Self.maximumTensorBytes)-byte limit")
        }
        if let maxBytes = limits.maxBytes, liveBytes + needed > maxBytes {
            throw RunInterruption.resourceLimit(
                "a \(dataType) tensor of shape \(shape) needs \(needed) bytes while \(liveBytes) are in use; the run may use \(maxBytes)")
        }
        let storage: TensorStorage
        if let index = bestFit(needed) {
            storage = free.remove(at: index)
            pooledBytes -= storage.byteCount
        } else {
            storage = TensorStorage(byteCount: needed)
        }
        liveBytes += storage.byteCount
        return Tensor(dataType: dataType, shape: shape, storage: storage)
    }

    /// Offers a tensor's memory back; kept only if nothing else references it.
    func recycle(_ tensor: inout Tensor) {
        guard isKnownUniquelyReferenced(&tensor.storage) else { return }
        let storage = tensor.storage
        liveBytes = max(0, liveBytes - storage.byteCount)
        guard storage.byteCount >= 64, pooledBytes + storage.byteCount <= maximumPooledBytes else { return }
        let index = free.firstIndex { $0.byteCount >= storage.byteCount } ?? free.endIndex
        free.insert(storage, at: index)
        pooledBytes += storage.byteCount
    }

    private func bestFit(_ needed: Int) -> Int? {
        guard let index = free.firstIndex(where: { $0.byteCount >= needed }) else { return nil }
        return free[index].byteCount <= max(needed * 2, 4096) ? index : nil
    }

    // MARK: Runs

    /// Starts a run under `limits`, lending the calling thread's kernels `limits.threads` threads.
    func begin(_ limits: RunLimits) {
        self.limits = limits
        liveBytes = 0
        attachThreads(limits.threads)
    }

    /// Ends a run: forgets its limits, takes the helper threads back and gives pooled memory back to the system
    /// down to the watermark, or down to what this run and the one before both used, if more: a stream of large
    /// batches keeps its buffers (handing them back and faulting them in again cost batch-32 CNNs ~15 % of their
    /// time), while a lone huge request is trimmed after the next ordinary run.
    func end() {
        limits = .none
        liveBytes = 0
        ds_pool_attach(nil, 1)
        let used = pooledBytes
        trim(to: max(retainedBytesAfterRun, min(used, previousRunBytes)))
        previousRunBytes = used
    }

    /// Attaches a pool with at least `threads − 1` helpers to the calling thread (starting or growing it); a pool
    /// that can't start leaves the run on one thread, slower but correct.
    private func attachThreads(_ threads: Int) {
        guard threads > 1 else { return ds_pool_attach(nil, 1) }
        if ds_pool_helpers(pool) < threads - 1 {
            ds_pool_destroy(pool)
            pool = ds_pool_create(Int32(clamping: threads - 1))
        }
        ds_pool_attach(pool, Int32(clamping: threads))
    }

    deinit { ds_pool_destroy(pool) }

    /// Frees pooled blocks, largest first, until at most `bytes` stay pooled.
    public func trim(to bytes: Int) {
        while pooledBytes > max(bytes, 0), let largest = free.popLast() {
            pooledBytes -= largest.byteCount
        }
    }

    /// Throws when the run's deadline has passed or its caller cancelled it. Cheap enough for
    /// every time step of a recurrent op; call it at that grain, not per element.
    func checkpoint() throws {
        guard !limits.isUnlimited else { return }
        if let deadline = limits.deadline, DispatchTime.now() >= deadline { throw RunInterruption.deadlineExceeded }
        if let isCancelled = limits.isCancelled, isCancelled() { throw RunInterruption.cancelled }
    }
}

/// The largest element count a shape may describe, counting only its non-zero dimensions: any
/// partial product of such a shape, times any element size, fits in an `Int`. (A tensor of shape
/// [0, 2^40, 2^40] holds nothing, yet `2^40 · 2^40` would overflow in a kernel's loop bounds.)
let maximumShapeVolume = Int.max / 16

/// The element count of a shape, or an error if a dimension is negative or the product of its
/// non-zero dimensions exceeds `maximumShapeVolume`.
func checkedElementCount(_ shape: [Int]) throws -> Int {
    var volume = 1
    var hasZero = false
    for dim in shape {
        guard dim >= 0 else { throw KernelError("shape \(shape) has a negative dimension") }
        if dim == 0 { hasZero = true; continue }
        let (product, overflow) = volume.multipliedReportingOverflow(by: dim)
        guard !overflow, product <= maximumShapeVolume else { throw KernelError("shape \(shape) has more elements than can be counted") }
        volume = product
    }
    return hasZero ? 0 : volume
}

/// The bytes a tensor of `shape` needs, checked as `checkedElementCount`.
func checkedByteCount(_ shape: [Int], _ dataType: DataType) throws -> Int {
    try checkedElementCount(shape) * dataType.size   // cannot overflow: the count is at most Int.max / 16
}
