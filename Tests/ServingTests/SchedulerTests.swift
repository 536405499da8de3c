import Engine
import Foundation
import Logging
import XCTest
@testable import Serving

/// The worker pool: answers match single runs, batching happens, full queues and late requests are refused.
final class SchedulerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = root.appendingPathComponent("models")

    static func digits(_ count: Int) throws -> [Tensor] {
        let images = try NumpyFile.read(contentsOf: root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/images.npy"))
        return (0..<count).map { images.rows(($0 % 200)..<($0 % 200 + 1)) }
    }

    /// Sends every image as its own request at once (from tasks preferring `executor`: handlers, when it is the
    /// scheduler's) and checks each answer against the plan run alone.
    static func inferAtOnce(_ images: [Tensor], model: LoadedModel, on scheduler: InferenceScheduler,
                            from executor: (any TaskExecutor)? = nil) async throws {
        let expected = try images.map { try XCTUnwrap(try model.plan.run(["image": $0])["logits"]).floatArray() }
        let answers = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, image) in images.enumerated() {
                group.addTask(executorPreference: executor) {
                    let (outputs, _) = try await scheduler.infer(model, inputs: ["image": image])
                    return (index, outputs["logits"]?.floatArray() ?? [])
                }
            }
            var answers = [[Float]](repeating: [], count: images.count)
            for try await (index, logits) in group { answers[index] = logits }
            return answers
        }
        for (index, (answer, reference)) in zip(answers, expected).enumerated() {
            XCTAssertEqual(answer.count, 10, "request \(index)")
            for (a, b) in zip(answer, reference) { XCTAssertEqual(a, b, accuracy: 1e-4, "request \(index)") }
        }
    }

    func testConcurrentRequestsAreBatchedAndEachGetsItsOwnAnswer() async throws {
        let repository = ModelRepository(root: Self.models)
        let model = try repository.load("mnist-cnn")
        let batches = BatchLog()
        var settings = InferenceScheduler.Settings()
        settings.defaultQueueSize = 256   // room for all 200 at once
        let scheduler = InferenceScheduler(settings: settings, onBatch: { _, rows, requests, _ in batches.record(rows: rows, requests: requests) })
        defer { scheduler.shutdown() }
        try await Self.inferAtOnce(try Self.digits(200), model: model, on: scheduler)
        XCTAssertEqual(batches.requests, 200)
        XCTAssertGreaterThan(batches.largestBatch, 1, "200 requests at once should share batches")
    }

    /// Tasks preferring the scheduler's executor run on its worker threads, interleaved with inference; after
    /// shutdown they still run (elsewhere) rather than hang.
    func testHandlerTasksRunOnTheWorkers() async throws {
        let scheduler = InferenceScheduler()
        let executor = scheduler.taskExecutor!
        let model = try ModelRepository(root: Self.models).load("mnist-cnn")
        let image = try Self.digits(1)[0]
        XCTAssertFalse(onWorker(), "the test itself runs elsewhere")
        let (started, resumed, logits) = try await Task(executorPreference: executor) { () async throws -> (Bool, Bool, [Int]) in
            let started = onWorker()
            let (outputs, _) = try await scheduler.infer(model, inputs: ["image": image])
            return (started, onWorker(), outputs["logits"]?.shape ?? [])
        }.value
        XCTAssertTrue(started, "the task starts on a worker")
        XCTAssertTrue(resumed, "and resumes on one after its inference")
        XCTAssertEqual(logits, [1, 10])
        scheduler.shutdown()
        try await Task.sleep(for: .milliseconds(50))
        let late = await Task(executorPreference: executor) { onWorker() }.value
        XCTAssertFalse(late, "after shutdown a task still runs, off the stopped workers")
    }

    /// A handler's inference runs on the worker that queued it, and the handler resumes there: no wake-up of the
    /// other worker and no move to another core on the way (`wakeAWorker`). Counted over 20 requests rather than
    /// required of each: a worker may wake spuriously (condition variables allow it) and take one. Waking the other
    /// worker for every job, as the scheduler did, moved nearly every request.
    func testARequestStaysOnItsWorker() async throws {
        var settings = InferenceScheduler.Settings()
        settings.workers = 2
        let batchThreads = ThreadLog()
        let scheduler = InferenceScheduler(settings: settings, onBatch: { _, _, _, _ in batchThreads.record() })
        defer { scheduler.shutdown() }
        let model = try ModelRepository(root: Self.models).load("mnist-cnn")
        let image = try Self.digits(1)[0]
        var ranThere = 0, resumedThere = 0
        for _ in 0..<20 {
            let (before, after) = try await Task(executorPreference: scheduler.taskExecutor) { () async throws -> (pthread_t, pthread_t) in
                let before = pthread_self()
                _ = try await scheduler.infer(model, inputs: ["image": image])
                return (before, pthread_self())
            }.value
            let ran = try XCTUnwrap(batchThreads.last)
            if pthread_equal(before, ran) != 0 { ranThere += 1 }
            if pthread_equal(before, after) != 0 { resumedThere += 1 }
        }
        XCTAssertGreaterThanOrEqual(ranThere, 16, "the batch ran on the handler's worker")
        XCTAssertGreaterThanOrEqual(resumedThere, 16, "the handler resumed on its worker")
    }

    /// A handler's request for an idle model runs in place, on the handler's own worker, without the trip through the
    /// queue (`runInPlace`): same answer as the plan alone, and booked like any run (the batch observer sees each).
    func testALoneRequestFromAHandlerRunsInPlace() async throws {
        let batches = BatchLog()
        let scheduler = InferenceScheduler(onBatch: { _, rows, requests, _ in batches.record(rows: rows, requests: requests) })
        defer { scheduler.shutdown() }
        let model = try ModelRepository(root: Self.models).load("mnist-cnn")
        let images = try Self.digits(10)
        for image in images {
            let expected = try XCTUnwrap(try model.plan.run(["image": image])["logits"]).floatArray()
            let (logits, timing) = try await Task(executorPreference: scheduler.taskExecutor) { () async throws -> ([Float], InferenceScheduler.Timing) in
                let (outputs, timing) = try await scheduler.infer(model, inputs: ["image": image])
                return (try XCTUnwrap(outputs["logits"]).floatArray(), timing)
            }.value
            XCTAssertEqual(logits, expected)
            XCTAssertEqual(timing.batchSize, 1)
            XCTAssertGreaterThan(timing.computeSeconds, 0)
        }
        XCTAssertEqual(scheduler.runsInPlace, 10, "each request came alone, from a worker, for an idle model")
        XCTAssertEqual(batches.requests, 10)
        XCTAssertEqual(scheduler.queueCount, 0, "a run in place leaves no queue behind")
        // Not from a worker (no handler task of this scheduler): through the queue, as before.
        _ = try await scheduler.infer(model, inputs: ["image": images[0]])
        XCTAssertEqual(scheduler.runsInPlace, 10)
        XCTAssertEqual(batches.requests, 11)
    }

    /// Many handlers at once on two workers: the first of a burst may run in place, the rest queue behind it and
    /// batch; every answer is its own, and no more cores than workers ever compute.
    func testHandlersInABurstStillBatchBesideRunsInPlace() async throws {
        let model = try ModelRepository(root: Self.models).load("mnist-cnn")
        let batches = BatchLog()
        var settings = InferenceScheduler.Settings()
        settings.workers = 2
        settings.defaultQueueSize = 256
        let scheduler = InferenceScheduler(settings: settings, onBatch: { _, rows, requests, _ in batches.record(rows: rows, requests: requests) })
        defer { scheduler.shutdown() }
        try await Self.inferAtOnce(try Self.digits(120), model: model, on: scheduler, from: scheduler.taskExecutor)
        XCTAssertEqual(batches.requests, 120)
        XCTAssertGreaterThan(batches.largestBatch, 1, "120 handlers at once should share batches")
        XCTAssertLessThanOrEqual(scheduler.peakBusyCores, 2)
        XCTAssertEqual(scheduler.queueCount, 0)
    }

    func testFullQueueIsRefused() async throws {
        let repository = ModelRepository(root: Self.models)
        let model = try repository.load("shakespeare-lstm")   // not batchable: every request runs alone
        var settings = InferenceScheduler.Settings()
        settings.workers = 1
        settings.defaultQueueSize = 4
        let scheduler = InferenceScheduler(settings: settings)
        defer { scheduler.shutdown() }
        let state = Tensor.zeros(.float, shape: [2, 1, 256])
        let inputs = ["tokens": Tensor(shape: [1, 400], int64s: Array(repeating: 5, count: 400)), "h0": state, "c0": state]
        let outcomes = await withTaskGroup(of: ServingError?.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    do { _ = try await scheduler.infer(model, inputs: inputs); return nil } catch { return error as? ServingError }
                }
            }
            var refused = 0, served = 0
            for await outcome in group {
                if case .queueFull? = outcome { refused += 1 } else if outcome == nil { served += 1 }
            }
            return (refused, served)
        }
        XCTAssertGreaterThan(outcomes.0, 0, "a queue of 4 cannot hold 40 requests")
        XCTAssertGreaterThan(outcomes.1, 0)
        XCTAssertEqual(outcomes.0 + outcomes.1, 40)
    }

    /// The only worker is held by a handler task until the queued request's deadline has certainly passed; the request
    /// must then be answered 504 without running (no batch of it is ever executed).
    func testRequestPastItsDeadlineIsNotRun() async throws {
        let model = try ModelRepository(root: Self.models).load("mnist-cnn")
        var settings = InferenceScheduler.Settings()
        settings.workers = 1
        let batches = BatchLog()
        let scheduler = InferenceScheduler(settings: settings, onBatch: { _, rows, requests, _ in batches.record(rows: rows, requests: requests) })
        defer { scheduler.shutdown() }
        let worker = Gate()
        let holder = Task(executorPreference: scheduler.taskExecutor) { worker.holdUntilOpened() }
        worker.waitUntilHeld()
        let image = try Self.digits(1)[0]
        let late = Task { try await scheduler.infer(model, inputs: ["image": image], deadline: .milliseconds(20)) }
        while scheduler.queueDepths["mnist-cnn", default: 0] == 0 { try await Task.sleep(for: .milliseconds(1)) }
        try await Task.sleep(for: .milliseconds(60))   // well past the 20 ms deadline, with the request still queued
        worker.open()
        await holder.value
        do {
            _ = try await late.value
            XCTFail("the request should have expired in the queue")
        } catch let error as ServingError {
            guard case .deadlineExceeded(let name, let waited) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(name, "mnist-cnn")
            XCTAssertGreaterThanOrEqual(waited, 20)
        }
        XCTAssertEqual(batches.requests, 0, "an expired request is never run")
        // The worker is free again and the model still answers within a deadline.
        let (outputs, _) = try await scheduler.infer(model, inputs: ["image": image], deadline: .seconds(30))
        XCTAssertEqual(outputs["logits"]?.shape, [1, 10])
    }
}

/// Holds a thread until opened; `waitUntilHeld` returns once the thread is inside `holdUntilOpened`.
final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var held = false, opened = false
    func holdUntilOpened() { condition.withLock { held = true; condition.broadcast(); while !opened { condition.wait() } } }
    func waitUntilHeld() { condition.withLock { while !held { condition.wait() } } }
    func open() { condition.withLock { opened = true; condition.broadcast() } }
}

final class BatchLog: @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0
    private var largest = 0
    func record(rows: Int, requests: Int) { lock.withLock { total += requests; largest = max(largest, rows) } }
    var requests: Int { lock.withLock { total } }
    var largestBatch: Int { lock.withLock { largest } }
}

/// Whether the running thread is an inference worker (a synchronous function: `Thread.current` is off limits in async
/// code).
private func onWorker() -> Bool { InferenceScheduler.isWorkerThread }

/// Intra-op threads are cores: a run granted two holds both of a two-worker pool, so no other batch computes beside it,
/// and a pool of one worker grants one.
final class IntraOpSchedulingTests: XCTestCase {
    private func runConcurrently(workers: Int, intraOpThreads: Int) async throws -> (threads: Set<Int>, peak: Int, answers: Int) {
        let model = try ModelRepository(root: SchedulerTests.models).load("mnist-cnn")
        var settings = InferenceScheduler.Settings()
        settings.workers = workers
        settings.intraOpThreads = intraOpThreads
        settings.defaultQueueSize = 256
        let scheduler = InferenceScheduler(settings: settings)
        defer { scheduler.shutdown() }
        let images = try SchedulerTests.digits(64)
        let expected = try images.map { try XCTUnwrap(try model.plan.run(["image": $0])["logits"]).floatArray() }
        let threads = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, image) in images.enumerated() {
                group.addTask {
                    let (outputs, timing) = try await scheduler.infer(model, inputs: ["image": image])
                    let logits = try XCTUnwrap(outputs["logits"]).floatArray()
                    for (a, b) in zip(logits, expected[index]) { XCTAssertEqual(a, b, accuracy: 1e-4, "request \(index)") }
                    return timing.threads
                }
            }
            var seen: [Int] = []
            for try await threads in group { seen.append(threads) }
            return seen
        }
        return (Set(threads), scheduler.peakBusyCores, threads.count)
    }

    func testTwoThreadRunsHoldBothCoresOfTwoWorkers() async throws {
        let result = try await runConcurrently(workers: 2, intraOpThreads: 2)
        XCTAssertEqual(result.answers, 64)
        XCTAssertEqual(result.threads, [2], "with both cores free at each start, every run gets two")
        XCTAssertEqual(result.peak, 2, "two cores held at most: no second batch beside a two-thread run")
    }

    func testOneWorkerGrantsOneThread() async throws {
        let result = try await runConcurrently(workers: 1, intraOpThreads: 4)
        XCTAssertEqual(result.threads, [1])
        XCTAssertEqual(result.peak, 1)
    }

    func testSingleThreadRunsStillFillEveryWorker() async throws {
        let result = try await runConcurrently(workers: 2, intraOpThreads: 1)
        XCTAssertEqual(result.threads, [1])
        XCTAssertLessThanOrEqual(result.peak, 2)
    }
}

/// The threads batches ran on, in order.
private final class ThreadLog: @unchecked Sendable {
    private let lock = NSLock()
    private var threads: [pthread_t] = []
    func record() { lock.withLock { threads.append(pthread_self()) } }
    var last: pthread_t? { lock.withLock { threads.last } }
}
