import Engine
import Foundation
import HTTPServer
import Synchronization

/// Runs inference on a fixed pool of worker threads, never on the I/O threads that call `infer`.
///
/// The same threads can also run the request handlers' own code (decoding, preprocessing, JSON): `taskExecutor`
/// is a Swift task executor backed by them, which the HTTP server runs handlers on. A request then stays on the
/// workers from its handler through its batch to its answer, instead of hopping between Swift's cooperative pool
/// and the workers (two more thread wake-ups per request, and two pools competing for the same cores). Handler
/// jobs go first: they are short, and they are what feeds the batches.
///
/// Each model version (and each component plan of it) has a bounded queue, keyed by name and version and dropped as
/// soon as it is empty and idle: a reloaded or unloaded model's plan is referenced by nothing here once its last
/// request finished, so its weights are freed. A worker takes the queue whose oldest request has waited longest; when the model allows batching it waits up to `max_queue_delay_microseconds` for
/// `max_batch_size` requests of compatible shapes, runs them as one batch along each tensor's batch axis (config.json's
/// `batch_axis`, default 0) and hands each caller its slice. A full queue refuses at once (503); a request whose deadline passes while
/// queued is answered 504 without running. Each worker owns a `Workspace`, so runs of one shared
/// plan never contend for memory. A model whose config asks for intra-op threads runs each batch on that many cores
/// (its worker's and its workspace's helpers), and the scheduler counts them: while they compute, fewer batches run.
public final class InferenceScheduler: @unchecked Sendable {
    public struct Settings: Sendable {
        public var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
        public var defaultQueueSize = 128
        public var defaultDeadline: Duration = .seconds(30)
        /// The most bytes one request's run may hold in intermediate tensors at once (a batch of n requests: n times
        /// this); past it the run stops with `EngineError.resourceLimit` (413). nil: only the engine's own limits.
        public var maxRequestMemory: Int? = 256 << 20
        /// Threads one run of a model may compute on unless its config sets `intra_op_threads`. A run's threads are
        /// cores it holds: a worker runs a batch only while cores are free and takes at most what is free, so the
        /// workers never have more threads computing than there are workers.
        public var intraOpThreads = 1
        public init() {}
    }

    /// What a finished request reports besides its outputs.
    public struct Timing: Sendable {
        public let queueSeconds: Double
        public let computeSeconds: Double
        public let batchSize: Int
        /// Threads the run computed on (its model's intra-op threads, or fewer when fewer cores were free).
        public var threads = 1
    }

    final class Job: @unchecked Sendable {
        let inputs: [String: Tensor]
        /// The plan this request runs: a queue may outlive a reload of its model (same name and version, new files),
        /// and only jobs of the same plan share a batch.
        let plan: Plan
        let enqueued = DispatchTime.now()
        let deadline: DispatchTime
        let rows: Int
        /// Where each input and output holds the batch.
        let axes: BatchAxes
        /// false: this request runs alone even when the model batches (generation with step batching off).
        let batchable: Bool
        private let lock = NSLock()
        private var cancelledFlag = false
        /// Set when the caller's task is cancelled (its client went away): a queued job is then dropped, and a
        /// running batch whose every job is cancelled stops between nodes.
        var isCancelled: Bool {
            get { lock.withLock { cancelledFlag } }
            set { lock.withLock { cancelledFlag = newValue } }
        }
        private var continuation: CheckedContinuation<([String: Tensor], Timing), Error>?

        init(inputs: [String: Tensor], plan: Plan, deadline: DispatchTime, axes: BatchAxes, batchable: Bool,
             continuation: CheckedContinuation<([String: Tensor], Timing), Error>) {
            self.inputs = inputs
            self.plan = plan
            self.deadline = deadline
            self.axes = axes
            self.batchable = batchable
            rows = Self.rows(of: inputs, plan: plan, axes: axes)
            self.continuation = continuation
        }

        /// The batch size along the first graph input's batch axis (1 when it has none, as a scalar).
        static func rows(of inputs: [String: Tensor], plan: Plan, axes: BatchAxes) -> Int {
            plan.inputs.first.flatMap { info in
                inputs[info.name].flatMap { tensor in
                    let axis = axes.input(info.name)
                    return axis < tensor.rank ? tensor.shape[axis] : nil
                }
            } ?? 1
        }

        func finish(_ result: Result<([String: Tensor], Timing), Error>) {
            continuation?.resume(with: result)
            continuation = nil
        }
    }

    /// Which queue a request joins: one per model version and plan (the main one or a named component).
    struct QueueKey: Hashable {
        let model: String
        let version: Int
        let component: String?
    }

    private final class ModelQueue {
        let name: String
        var jobs: [Job] = []
        /// Batches of this model running now.
        var running = 0
        let capacity: Int
        let maxBatch: Int
        let maxDelay: Double
        /// Threads a run of this model asks for (intra-op parallelism).
        let threads: Int
        init(model: LoadedModel, capacity: Int, threads: Int) {
            name = model.name
            self.capacity = capacity
            self.threads = max(1, threads)
            maxBatch = max(1, model.config.batching?.maxBatchSize ?? 1)
            maxDelay = Double(model.config.batching?.maxQueueDelayMicroseconds ?? 0) / 1e6
        }
    }

    public let settings: Settings
    private let condition = NSCondition()
    private var queues: [QueueKey: ModelQueue] = [:]
    private var stopping = false
    private var threads: [Thread] = []
    /// Handler jobs waiting for a worker (see `taskExecutor`).
    private var tasks: [UnownedJob] = [] {
        didSet { waitingTasks.store(tasks.count, ordering: .relaxed) }
    }
    /// `tasks.count`, readable without the lock (`WorkerTaskExecutor.hasWaitingWork`).
    private let waitingTasks = Atomic<Int>(0)
    /// Whether handler jobs wait for a worker now.
    var hasWaitingTasks: Bool { waitingTasks.load(ordering: .relaxed) > 0 }
    /// Workers still running; once none is, handler jobs run on Dispatch's global queue instead.
    private var liveWorkers = 0
    /// Cores the running batches hold: one each, more for a model that computes on several threads.
    private var busyCores = 0
    /// The most cores ever held at once (never above `settings.workers`; for tests).
    var peakBusyCores: Int { condition.withLock { peakCores } }
    private var peakCores = 0
    /// How many runs ran in place (`runInPlace`; for tests).
    var runsInPlace: Int { condition.withLock { inPlaceRuns } }
    private var inPlaceRuns = 0
    /// A task executor whose jobs run on the worker threads.
    public private(set) var taskExecutor: WorkerTaskExecutor!
    /// Called after every run (model, rows in the batch, requests in it, compute seconds), for metrics.
    public typealias BatchObserver = @Sendable (_ model: String, _ rows: Int, _ requests: Int, _ computeSeconds: Double) -> Void
    private let onBatch: BatchObserver?

    public init(settings: Settings = Settings(), onBatch: BatchObserver? = nil) {
        self.settings = settings
        self.onBatch = onBatch
        liveWorkers = settings.workers
        taskExecutor = WorkerTaskExecutor(scheduler: self)
        for index in 0..<settings.workers {
            // Workers keep the scheduler alive until shutdown() lets them finish: a worker woken by
            // the shutdown must still find it.
            let thread = Thread { self.workerLoop() }
            thread.name = "deepserve-worker-\(index)"
            thread.stackSize = 8 << 20
            threads.append(thread)
            thread.start()
        }
    }

    /// Requests waiting, per model name.
    public var queueDepths: [String: Int] {
        condition.lock()
        defer { condition.unlock() }
        var depths: [String: Int] = [:]
        for queue in queues.values { depths[queue.name, default: 0] += queue.jobs.count }
        return depths
    }

    /// How many queues exist now (each model version with requests waiting or running has one).
    var queueCount: Int { condition.withLock { queues.count } }

    /// Runs the model's main plan, or the component plan named `component`, on `inputs`; `batchable: false` keeps
    /// the request out of any batch.
    public func infer(_ model: LoadedModel, component: String? = nil, inputs: [String: Tensor], deadline: Duration? = nil,
                      batchable: Bool = true) async throws -> ([String: Tensor], Timing)
    {
        let plan: Plan
        if let component {
            guard let found = model.components[component] else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "it has no component '\(component)'")
            }
            plan = found
        } else {
            plan = model.plan
        }
        let limit = deadline ?? settings.defaultDeadline
        let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        let due = DispatchTime.now() + .nanoseconds(Int(clamping: nanoseconds))
        let axes = component == nil ? model.batchAxes : BatchAxes()
        if let turn = WorkerTurn.current, turn.scheduler == ObjectIdentifier(self),
           let answer = try runInPlace(model, component: component, plan: plan, inputs: inputs, deadline: due, axes: axes,
                                       on: turn) {
            return answer
        }
        let box = JobBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job = Job(inputs: inputs, plan: plan, deadline: due, axes: axes, batchable: batchable, continuation: continuation)
                box.job = job
                enqueue(job, model: model, component: component)
            }
        } onCancel: {
            box.job?.isCancelled = true
        }
    }

    /// Runs a request at once on the worker thread that runs its handler, when a worker taking it from the queue would
    /// have run it at once anyway: nothing of any model is queued, no handler job waits, no batch of this model is
    /// running (then a lone request would be held for company) and a core is free. What that saves is the trip
    /// through the queue: a job, a suspended handler task, the worker finding the job, and the task resumed and found
    /// again after the run; with the caches cold from the network, those steps took ~20 µs a request.
    /// Returns nil when the request has to queue (or is cancelled: the queue answers that).
    private func runInPlace(_ model: LoadedModel, component: String?, plan: Plan, inputs: [String: Tensor],
                            deadline due: DispatchTime, axes: BatchAxes, on turn: WorkerTurn) throws
        -> ([String: Tensor], Timing)?
    {
        let arrived = DispatchTime.now()
        guard !Task.isCancelled else { return nil }
        let key = QueueKey(model: model.name, version: model.version, component: component)
        condition.lock()
        guard !stopping, tasks.isEmpty, busyCores < settings.workers, queues[key].map({ $0.running == 0 }) ?? true,
              queues.values.allSatisfy({ $0.jobs.isEmpty }) else {
            condition.unlock()
            return nil
        }
        // Booked as a batch of one, so requests arriving meanwhile see the model running and the core taken.
        let queue = queue(key, of: model)
        queue.running += 1
        let threads = min(queue.threads, settings.workers - busyCores)
        busyCores += threads
        peakCores = max(peakCores, busyCores)
        inPlaceRuns += 1
        condition.unlock()
        defer { finished(queue, key: key, threads: threads) }

        let start = DispatchTime.now()
        guard due >= start else { throw ServingError.deadlineExceeded(model: queue.name, milliseconds: 0) }
        let outputs = try plan.run(inputs, workspace: turn.workspace,
                                   limits: RunLimits(deadline: due, maxBytes: settings.maxRequestMemory, threads: threads,
                                                     isCancelled: { Task.isCancelled }))
        let compute = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        let rows = Job.rows(of: inputs, plan: plan, axes: axes)
        ServingMetrics.recordExecution(model: queue.name, rows: rows, requests: 1, computeSeconds: compute)
        onBatch?(queue.name, rows, 1, compute)
        let queued = Double(start.uptimeNanoseconds - arrived.uptimeNanoseconds) / 1e9
        return (outputs, Timing(queueSeconds: queued, computeSeconds: compute, batchSize: rows, threads: threads))
    }

    /// Holds the job for the cancellation handler, which may run before the job exists (then it is never enqueued).
    private final class JobBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Job?
        var job: Job? {
            get { lock.withLock { stored } }
            set { lock.withLock { stored = newValue } }
        }
    }

    /// Called inside the caller's task: a task already cancelled is answered at once.
    private func enqueue(_ job: Job, model: LoadedModel, component: String?) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return job.finish(.failure(ServingError.shuttingDown)) }
        guard !Task.isCancelled else { return job.finish(.failure(CancellationError())) }
        let queue = queue(QueueKey(model: model.name, version: model.version, component: component), of: model)
        guard queue.jobs.count < queue.capacity else {
            return job.finish(.failure(ServingError.queueFull(model: model.name, capacity: queue.capacity)))
        }
        queue.jobs.append(job)
        wakeAWorker()
    }

    /// The queue of `key`, made now if it has none. Called with the lock held.
    private func queue(_ key: QueueKey, of model: LoadedModel) -> ModelQueue {
        if let queue = queues[key] { return queue }
        let queue = ModelQueue(model: model, capacity: model.config.batching?.queueSize ?? settings.defaultQueueSize,
                               threads: model.config.intraOpThreads ?? settings.intraOpThreads)
        queues[key] = queue
        return queue
    }

    /// Wakes a sleeping worker for work just queued, unless the calling worker will take it itself: a worker that
    /// queues work from inside a handler job or while it finishes a batch goes straight back to `nextWork`, and
    /// waking the other one then only moved the request to another core (a futex wake and a cold cache) or woke it
    /// for nothing when this one got there first. Only the first thing it queues in one go is kept for itself; more
    /// (a finished batch resuming its callers, say) wake others, so they don't wait one after another. Called with
    /// the lock held.
    private func wakeAWorker() {
        if let turn = WorkerTurn.current, !turn.keptWork {
            turn.keptWork = true
            return
        }
        condition.signal()
    }

    /// What the calling worker thread is doing: running a handler job or finishing a batch, after which it looks for
    /// work again at once.
    private final class WorkerTurn {
        var keptWork = false
        /// The scheduler whose worker this is, and the worker's workspace (for a run in place, `runInPlace`).
        let scheduler: ObjectIdentifier
        let workspace: Workspace
        init(scheduler: InferenceScheduler, workspace: Workspace) {
            self.scheduler = ObjectIdentifier(scheduler)
            self.workspace = workspace
        }
        static var current: WorkerTurn? {
            get { slot.value }
            set { slot.value = newValue }
        }
        private static let slot = ThreadLocalReference<WorkerTurn>()
    }

    /// Stops the workers after the queued work is done (and lets the scheduler be freed).
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    // MARK: Workers

    /// What a worker does next.
    private enum Work {
        case task(UnownedJob)
        case batch(QueueKey, ModelQueue, [Job], threads: Int)
    }

    /// Whether the calling thread is one of the workers of some scheduler.
    public static var isWorkerThread: Bool { Thread.current.threadDictionary[workerKey] != nil }
    private static let workerKey = "deepserve.inference-worker"

    private func workerLoop() {
        Thread.current.threadDictionary[Self.workerKey] = true
        let workspace = Workspace()
        let executor = taskExecutor.asUnownedTaskExecutor()
        let turn = WorkerTurn(scheduler: self, workspace: workspace)
        // Metric updates made on this thread wait until it has nothing to do (`DeferredMetrics`).
        let metrics = DeferredMetrics.Buffer()
        DeferredMetrics.holding(in: metrics) {
            while let work = nextWork(metrics) {
                switch work {
                case .task(let job):
                    turn.keptWork = false
                    WorkerTurn.current = turn
                    job.runSynchronously(on: executor)
                    WorkerTurn.current = nil
                case .batch(let key, let queue, let batch, let threads):
                    run(batch, on: queue, threads: threads, workspace, turn: turn)
                    finished(queue, key: key, threads: threads)
                }
            }
        }
    }

    /// Books a batch's end: its cores come back, and its queue goes if nothing else waits in it.
    private func finished(_ queue: ModelQueue, key: QueueKey, threads: Int) {
        condition.lock()
        defer { condition.unlock() }
        let coresWereShort = busyCores >= settings.workers
        queue.running -= 1
        busyCores -= threads
        if queue.jobs.isEmpty, queue.running == 0, queues[key] === queue { queues[key] = nil }
        // A queue held open for company may now run, and a worker waiting for cores may now take some. With
        // nothing queued and no one short of cores there is nothing to wake a worker for (work queued later
        // wakes one itself).
        if coresWereShort || queues.values.contains(where: { !$0.jobs.isEmpty }) { condition.broadcast() }
    }

    /// A handler job for the workers (from `taskExecutor`).
    fileprivate func enqueue(_ job: UnownedJob) {
        condition.lock()
        guard liveWorkers > 0 else {
            condition.unlock()
            // Shut down: the job still has to run (a handler finishing its answer), just not on a worker.
            let executor = taskExecutor.asUnownedTaskExecutor()
            DispatchQueue.global().async { job.runSynchronously(on: executor) }
            return
        }
        tasks.append(job)
        wakeAWorker()
        condition.unlock()
    }

    /// Blocks until there is work: a handler job, or the jobs of one model to run together (nil once stopped and
    /// drained). Before it sleeps, the worker applies the metric updates it holds (`metrics`).
    private func nextWork(_ metrics: DeferredMetrics.Buffer) -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if !tasks.isEmpty { return .task(tasks.removeFirst()) }
            // Every core is computing (a run holds more than its own worker's): wait for one to come back.
            if busyCores >= settings.workers, !stopping || queues.values.contains(where: { !$0.jobs.isEmpty }) {
                condition.wait()
                continue
            }
            let waiting = queues.filter { !$0.value.jobs.isEmpty }
            guard let (key, queue) = waiting.min(by: { $0.value.jobs[0].enqueued < $1.value.jobs[0].enqueued }) else {
                if stopping {
                    liveWorkers -= 1
                    return nil
                }
                // Nothing to do: the metric updates held meanwhile go out now, off every request's path.
                if !metrics.isEmpty {
                    condition.unlock()
                    metrics.flush()
                    condition.lock()
                    continue
                }
                condition.wait()
                continue
            }
            // Hold a batchable queue open until it fills or its oldest request has waited long enough —
            // but only for a single request while another batch of the model runs (company is likely: its
            // callers come back). A lone request with the model idle runs at once; and once several have
            // queued, a free worker takes them now rather than idle while the other worker computes. A request that
            // may not share a batch (a lane's step, already a batch) gains nothing by waiting.
            if queue.maxBatch > 1, queue.jobs.count == 1, queue.jobs[0].batchable, queue.running > 0, !stopping {
                let age = Double(DispatchTime.now().uptimeNanoseconds - queue.jobs[0].enqueued.uptimeNanoseconds) / 1e9
                if age < queue.maxDelay {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: queue.maxDelay - age))
                    continue
                }
            }
            queue.running += 1
            let threads = min(queue.threads, settings.workers - busyCores)
            busyCores += threads
            peakCores = max(peakCores, busyCores)
            return .batch(key, queue, takeBatch(from: queue), threads: threads)
        }
    }

    /// The oldest job and those behind it that can share its batch (same non-batch dimensions).
    private func takeBatch(from queue: ModelQueue) -> [Job] {
        let first = queue.jobs.removeFirst()
        var batch = [first]
        guard queue.maxBatch > 1, first.batchable, Self.isBatchable(first) else { return batch }
        var rows = first.rows
        var index = 0
        while index < queue.jobs.count, rows < queue.maxBatch {
            let candidate = queue.jobs[index]
            if rows + candidate.rows <= queue.maxBatch, candidate.plan === first.plan, candidate.batchable,
               candidate.axes == first.axes, Self.compatible(first, candidate) {
                batch.append(queue.jobs.remove(at: index))
                rows += candidate.rows
            } else {
                index += 1
            }
        }
        return batch
    }

    /// Batching joins inputs along their batch axes, so every input must have a dynamic dimension there, of the
    /// job's batch size.
    private static func isBatchable(_ job: Job) -> Bool {
        job.plan.inputs.allSatisfy { info in
            let axis = job.axes.input(info.name)
            guard let shape = info.shape, axis < shape.count, shape[axis].fixedValue == nil else { return false }
            return job.inputs[info.name].map { axis < $0.rank && $0.shape[axis] == job.rows } ?? false
        }
    }

    /// Same inputs, element types and every dimension but the batch axis.
    private static func compatible(_ a: Job, _ b: Job) -> Bool {
        a.inputs.count == b.inputs.count && a.inputs.allSatisfy { name, tensor in
            guard let other = b.inputs[name], other.dataType == tensor.dataType, other.rank == tensor.rank else { return false }
            let axis = a.axes.input(name)
            return (0..<tensor.rank).allSatisfy { $0 == axis || other.shape[$0] == tensor.shape[$0] }
        }
    }

    private func run(_ batch: [Job], on queue: ModelQueue, threads: Int, _ workspace: Workspace, turn: WorkerTurn) {
        let start = DispatchTime.now()
        var live: [Job] = []
        for job in batch {
            if job.isCancelled {
                job.finish(.failure(CancellationError()))
            } else if job.deadline < start {
                let waited = Int((start.uptimeNanoseconds - job.enqueued.uptimeNanoseconds) / 1_000_000)
                job.finish(.failure(ServingError.deadlineExceeded(model: queue.name, milliseconds: waited)))
            } else {
                live.append(job)
            }
        }
        guard !live.isEmpty else { return }
        do {
            let axes = live[0].axes
            let inputs = live.count == 1 ? live[0].inputs : try Self.concatenate(live.map(\.inputs), axes: axes)
            let outputs = try live[0].plan.run(inputs, workspace: workspace, limits: limits(for: live, threads: threads))
            let end = DispatchTime.now()
            let compute = Double(end.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let rows = live.reduce(0) { $0 + $1.rows }
            ServingMetrics.recordExecution(model: queue.name, rows: rows, requests: live.count, computeSeconds: compute)
            onBatch?(queue.name, rows, live.count, compute)
            let parts = live.count == 1 ? [outputs] : try Self.split(outputs, rows: live.map(\.rows), axes: axes, model: queue.name)
            // The first caller resumed stays on this worker (`wakeAWorker`).
            turn.keptWork = false
            WorkerTurn.current = turn
            defer { WorkerTurn.current = nil }
            for (job, part) in zip(live, parts) {
                let queued = Double(start.uptimeNanoseconds - job.enqueued.uptimeNanoseconds) / 1e9
                job.finish(.success((part, Timing(queueSeconds: queued, computeSeconds: compute, batchSize: rows, threads: threads))))
            }
        } catch {
            for job in live { job.finish(.failure(error)) }
        }
    }

    /// What one run may cost: until the latest deadline of its requests, the memory cap times their number, and
    /// only while at least one of its callers still waits.
    private func limits(for jobs: [Job], threads: Int) -> RunLimits {
        let memory = settings.maxRequestMemory.map { cap in
            let (total, overflow) = cap.multipliedReportingOverflow(by: jobs.count)
            return overflow ? Int.max : total
        }
        return RunLimits(deadline: jobs.map(\.deadline).max(), maxBytes: memory, threads: threads,
                         isCancelled: { jobs.allSatisfy(\.isCancelled) })
    }

    /// Each input of every request joined along its batch axis.
    static func concatenate(_ inputs: [[String: Tensor]], axes: BatchAxes) throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for name in inputs[0].keys {
            let parts = inputs.compactMap { $0[name] }
            result[name] = try Tensor.concatenate(parts, axis: axes.input(name))
        }
        return result
    }

    /// Each output cut along its batch axis into the requests' shares (`rows`, in order).
    static func split(_ outputs: [String: Tensor], rows: [Int], axes: BatchAxes, model: String) throws -> [[String: Tensor]] {
        var parts = Array(repeating: [String: Tensor](), count: rows.count)
        let total = rows.reduce(0, +)
        for (name, tensor) in outputs {
            let axis = axes.output(name)
            guard axis < tensor.rank, tensor.shape[axis] == total else {
                throw ServingError.modelMisconfigured(model: model, reason: "output '\(name)' of shape \(tensor.shape) cannot be split into a batch of \(total) along axis \(axis)")
            }
            var offset = 0
            for (index, count) in rows.enumerated() {
                parts[index][name] = tensor.slice(offset..<(offset + count), axis: axis)
                offset += count
            }
        }
        return parts
    }
}

/// Runs Swift tasks' jobs on the scheduler's worker threads (see `InferenceScheduler`); once the scheduler is gone,
/// on Dispatch's global queue. It tells the HTTP server when handler jobs wait (a finished batch's callers), so a
/// worker leaves writing an answer to the event loop and goes on with them.
public final class WorkerTaskExecutor: TaskExecutor, WaitingWorkReporting, @unchecked Sendable {
    private weak var scheduler: InferenceScheduler?

    init(scheduler: InferenceScheduler) { self.scheduler = scheduler }

    public var hasWaitingWork: Bool { scheduler?.hasWaitingTasks ?? false }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if let scheduler {
            scheduler.enqueue(job)
        } else {
            let executor = asUnownedTaskExecutor()
            DispatchQueue.global().async { job.runSynchronously(on: executor) }
        }
    }
}
