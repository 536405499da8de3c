import Dispatch

/// What one run may spend: a deadline, a cap on the memory its tensors hold at once, the cores it may
/// compute on, and a way for the caller to cancel it. A client controls the shapes a model runs on, so without limits one
/// small request can hold a worker for seconds or make it allocate gigabytes.
///
/// The engine checks the deadline and cancellation between nodes and, at a coarse grain, inside
/// long loops (recurrent time steps, convolution batches); `maxBytes` is checked on every
/// allocation, before the memory is taken.
public struct RunLimits: Sendable {
    /// When the run must stop (`DispatchTime.now() + .seconds(1)`); nil: no deadline.
    public var deadline: DispatchTime?
    /// The most bytes the run's intermediates and outputs may hold at once (inputs and weights not
    /// counted); nil: only the engine's per-tensor limit applies.
    public var maxBytes: Int?
    /// Asked between nodes and inside long loops; true stops the run with `EngineError.cancelled`.
    public var isCancelled: (@Sendable () -> Bool)?
    /// Threads the run's kernels may split their work over (intra-op parallelism): the runner's own and
    /// `threads − 1` helpers of its workspace's pool. 1: the runner alone. Whoever grants more must own the cores.
    public var threads: Int

    public init(deadline: DispatchTime? = nil, maxBytes: Int? = nil, threads: Int = 1,
                isCancelled: (@Sendable () -> Bool)? = nil) {
        self.deadline = deadline
        self.maxBytes = maxBytes
        self.threads = max(1, threads)
        self.isCancelled = isCancelled
    }

    /// No limits: what `Plan.run(_:workspace:)` uses.
    public static let none = RunLimits()

    var isUnlimited: Bool { deadline == nil && maxBytes == nil && isCancelled == nil }
}

/// Why a kernel stopped before finishing; the plan turns it into the `EngineError` that names the node.
enum RunInterruption: Error {
    case deadlineExceeded
    case cancelled
    case resourceLimit(String)
    case divisionByZero
}
