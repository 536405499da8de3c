import Engine
import Foundation
import HTTPServer
import Logging
import XCTest
@testable import Serving

/// A model reloaded 200 times — half through the control API, half by the repository poller — while a client keeps
/// classifying: no request fails, every replaced plan is freed, and resident memory stays flat.
final class ReloadSoakTests: XCTestCase {
    func testReloadsUnderTrafficFailNothingAndLeakNothing() async throws {
        let root = try TemporaryRepository.make("soak", with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let repository = ModelRepository(root: root)
        let poller = RepositoryPoller(repository: repository, interval: .seconds(3600), logger: logger)
        try repository.loadAll(logger: logger)
        let scheduler = InferenceScheduler()
        let service = ServingService(repository: repository, scheduler: scheduler, adminToken: "soak", logger: logger)
        var router = Router()
        service.register(on: &router)
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, handlerExecutor: scheduler.taskExecutor),
                                    router: router, logger: logger)

        // Light traffic: one client classifying a digit back to back until told to stop.
        let png = [UInt8](try Data(contentsOf: ServingEndToEndTests.heldout.appendingPathComponent("000.png")))
        let traffic = TrafficCounter()
        let client = Thread {
            while traffic.waitWhilePaused() {
                let status = (try? ServingEndToEndTests.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: png,
                                                                 headers: ["Content-Type": "image/png"], port: server.port))?.status
                traffic.record(ok: status == 200)
            }
            traffic.finish()
        }
        client.start()

        let modelFile = root.appendingPathComponent("mnist-cnn/1/model.onnx")
        var replaced: [WeakPlan] = []
        var residentAfterWarmUp = 0
        for round in 0..<200 {
            let before = try repository.model("mnist-cnn")
            replaced.append(WeakPlan(before.plan))
            if round.isMultiple(of: 2) {
                let answer = try ServingEndToEndTests.request("POST", "/v2/repository/models/mnist-cnn/load", bodyBytes: [],
                                                              headers: ["Authorization": "Bearer soak"], port: server.port)
                XCTAssertEqual(answer.status, 200, answer.body)
            } else {
                // The poller sees a changed file (its modification time) and reloads the model.
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000 + Double(round))],
                                                      ofItemAtPath: modelFile.path)
                poller.pollNow()
            }
            XCTAssertFalse(try repository.model("mnist-cnn") === before, "round \(round) reloaded the model")
            if round == 19 {
                // Measured between requests, not in the middle of one.
                traffic.pause()
                residentAfterWarmUp = Self.residentBytes()
                traffic.resume()
            }
        }
        traffic.stop()
        traffic.waitUntilFinished()
        let residentAtEnd = Self.residentBytes()
        await server.shutdown()
        scheduler.shutdown()

        XCTAssertEqual(traffic.failed, 0, "no request may fail while its model is reloaded")
        XCTAssertGreaterThan(traffic.succeeded, 10, "the traffic ran alongside the reloads")
        XCTAssertEqual(scheduler.queueCount, 0, "idle queues are dropped")
        let alive = replaced.filter { $0.plan != nil }.count
        XCTAssertEqual(alive, 0, "every replaced plan is freed once its requests finished (\(alive) of 200 still alive)")
        let growth = residentAtEnd - residentAfterWarmUp
        print("reload soak: resident \(residentAfterWarmUp >> 20) MiB after 20 reloads, \(residentAtEnd >> 20) MiB after 200 (growth \(growth >> 10) KiB); \(traffic.succeeded) requests served")
        XCTAssertLessThan(growth, 5 << 20, "resident memory grew \(growth >> 10) KiB over 180 reloads")
    }

    /// This process's resident set, from /proc/self/statm.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

private struct WeakPlan {
    weak var plan: Plan?
    init(_ plan: Plan) { self.plan = plan }
}

/// Counts the traffic thread's answers; `pause` returns once the client is between requests, `stop` asks it to end,
/// `waitUntilFinished` waits for it.
private final class TrafficCounter: @unchecked Sendable {
    private let lock = NSCondition()
    private var ok = 0, bad = 0, done = false, halt = false, paused = false, idle = false
    /// Called by the client before each request: false once stopped; blocks while paused.
    func waitWhilePaused() -> Bool {
        lock.withLock {
            while paused && !halt { idle = true; lock.broadcast(); lock.wait() }
            idle = false
            return !halt
        }
    }
    func pause() { lock.withLock { paused = true; while !idle && !done { lock.wait() } } }
    func resume() { lock.withLock { paused = false; lock.broadcast() } }
    var succeeded: Int { lock.withLock { ok } }
    var failed: Int { lock.withLock { bad } }
    func record(ok success: Bool) { lock.withLock { if success { ok += 1 } else { bad += 1 } } }
    func stop() { lock.withLock { halt = true; lock.broadcast() } }
    func finish() { lock.withLock { done = true; lock.broadcast() } }
    func waitUntilFinished() { lock.withLock { while !done { lock.wait() } } }
}
