import Dispatch
import Foundation
import XCTest
@testable import Engine

/// A run's cost is bounded by its limits, whatever shapes the request claims, and a workspace
/// gives memory back after a huge run.
final class RunLimitsTests: XCTestCase {
    static let lstmURL = ShippedModelTests.modelsFolder.appendingPathComponent("shakespeare-lstm/1/model.onnx")

    /// The shipped character LSTM's feeds: `tokens` [batch, time] and zero states [2, batch, 256].
    private func lstmFeeds(_ plan: Plan, batch: Int, time: Int, fill: Int64 = 1) -> [String: Tensor] {
        var feeds = plan.placeholderInputs(dynamicSize: batch)
        feeds["tokens"] = Tensor(shape: [batch, time], int64s: Array(repeating: fill, count: batch * time))
        return feeds
    }

    /// `[0, 2^31 - 1]` holds no data but once made the recurrent loop step 2^31 empty times (16 s).
    func testEmptyBatchWithHugeTimeFinishesAtOnce() throws {
        let plan = try Plan(contentsOf: Self.lstmURL)
        let start = DispatchTime.now()
        let limits = RunLimits(deadline: .now() + .seconds(1))
        do {
            let outputs = try plan.run(lstmFeeds(plan, batch: 0, time: Int(Int32.max)), limits: limits)
            for (name, value) in outputs { XCTAssertEqual(value.count, 0, name) }
        } catch EngineError.deadlineExceeded {
            // Also bounded: the deadline stopped it.
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertLessThan(seconds, 10, "a request with no data held the run for \(seconds) s")
    }

    func testLongSequenceOverMaxBytesThrowsResourceLimitBeforeAllocating() throws {
        let plan = try Plan(contentsOf: Self.lstmURL)
        let workspace = Workspace()
        XCTAssertThrowsError(try plan.run(lstmFeeds(plan, batch: 1, time: 200_000), workspace: workspace,
                                          limits: RunLimits(maxBytes: 64 << 20))) { error in
            guard case .resourceLimit(let node, let reason)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertFalse(node.isEmpty)
            XCTAssertTrue(reason.contains("bytes"), reason)
            XCTAssertTrue((error as? EngineError)?.isCausedByInput ?? false)
        }
        XCTAssertLessThanOrEqual(workspace.pooledByteCount, workspace.retainedBytesAfterRun)
    }

    func testDeadlineStopsALongSequenceInsideTheRecurrentLoop() throws {
        let plan = try Plan(contentsOf: Self.lstmURL)
        let start = DispatchTime.now()
        XCTAssertThrowsError(try plan.run(lstmFeeds(plan, batch: 1, time: 20_000), limits: RunLimits(deadline: .now() + .milliseconds(50)))) { error in
            guard case .deadlineExceeded(let node)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertFalse(node.isEmpty)
            XCTAssertFalse((error as? EngineError)?.isCausedByInput ?? true)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        XCTAssertLessThan(seconds, 5)
    }

    func testCancellationStopsTheRun() throws {
        let plan = try Plan(contentsOf: Self.lstmURL)
        XCTAssertThrowsError(try plan.run(lstmFeeds(plan, batch: 1, time: 8), limits: RunLimits(isCancelled: { true }))) { error in
            guard case .cancelled? = error as? EngineError else { return XCTFail("\(error)") }
        }
    }

    func testWorkspaceKeepsAtMostItsWatermarkAfterABigRun() throws {
        let plan = try Plan(contentsOf: Self.lstmURL)
        let workspace = Workspace(retainedBytesAfterRun: 1 << 20)
        _ = try plan.run(lstmFeeds(plan, batch: 2, time: 500), workspace: workspace)
        XCTAssertLessThanOrEqual(workspace.pooledByteCount, 1 << 20)

        // The default watermark, 64 MiB, after a run whose 96 MiB intermediate went back to the pool.
        var model = ModelBuilder()
        model.input("x", ["N"])
        model.output("y", ["N"])
        model.node("Relu", ["x"], ["r"])
        model.node("Neg", ["r"], ["y"])
        let count = 24 << 20
        let defaultWorkspace = Workspace()
        _ = try model.plan().run(["x": Tensor.zeros(.float, shape: [count])], workspace: defaultWorkspace)
        XCTAssertEqual(defaultWorkspace.retainedBytesAfterRun, 64 << 20)
        XCTAssertLessThanOrEqual(defaultWorkspace.pooledByteCount, 64 << 20)
    }

    /// Large runs in a row keep their buffers (no refaulting per batch); one ordinary run after them gives them back.
    func testWorkspaceKeepsWhatTwoRunsInARowUsed() throws {
        var model = ModelBuilder()
        model.input("x", ["N"])
        model.output("y", ["N"])
        model.node("Relu", ["x"], ["r"])
        model.node("Neg", ["r"], ["y"])
        let plan = try model.plan()
        let workspace = Workspace(retainedBytesAfterRun: 1 << 20)
        let big = Tensor.zeros(.float, shape: [4 << 20]), small = Tensor.zeros(.float, shape: [16])
        _ = try plan.run(["x": big], workspace: workspace)
        XCTAssertLessThanOrEqual(workspace.pooledByteCount, 1 << 20, "a first large run is trimmed")
        _ = try plan.run(["x": big], workspace: workspace)
        XCTAssertGreaterThanOrEqual(workspace.pooledByteCount, 16 << 20, "the second in a row keeps its 16 MiB intermediate")
        _ = try plan.run(["x": small], workspace: workspace)
        XCTAssertLessThanOrEqual(workspace.pooledByteCount, 1 << 20, "an ordinary run after them gives it back")
    }

    func testGenerousLimitsChangeNothing() throws {
        let plan = try Plan(contentsOf: Self.lstmURL)
        let feeds = lstmFeeds(plan, batch: 2, time: 16, fill: 7)
        let plain = try plan.run(feeds)
        let limited = try plan.run(feeds, limits: RunLimits(deadline: .now() + .seconds(60), maxBytes: 1 << 30, isCancelled: { false }))
        for (name, value) in plain { XCTAssertEqual(limited[name]?.floatArray(), value.floatArray(), name) }
    }

    func testShapesWhosePartialProductsOverflowAreRefused() throws {
        // [2^40, 2^40, 0] holds nothing, but a kernel's loop bound 2^40 · 2^40 would overflow.
        var model = ModelBuilder()
        model.input("x", ["A", "B", "C"])
        model.output("y", ["A", "B", "C"])
        model.node("Relu", ["x"], ["y"])
        let x = Tensor(dataType: .float, shape: [1 << 40, 1 << 40, 0], bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertThrowsError(try model.plan().run(["x": x])) { error in
            guard case .inputShapeMismatch? = error as? EngineError else { return XCTFail("\(error)") }
        }
    }
}
