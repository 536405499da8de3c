import Engine
import Foundation
import Glibc
import XCTest
@testable import Serving

/// Step-level batching of generation: concurrent streams share each step of the shipped LSTM (its states batched
/// along axis 1, as its config.json says), yet every seed gives the tokens it gives alone; streams join, leave and
/// hang up mid-batch; the batch axis from config.json is what the scheduler joins and splits along.
final class StepBatchingTests: XCTestCase {
    private static let path = "/v1/models/shakespeare-lstm/generate"

    /// Eight generations that differ in prompt, length, seed and sampling parameters.
    private static let bodies: [Data] = (0..<8).map { index in
        var body: [String: Any] = ["prompt": ["ROMEO:", "To be, or not", "KING HENRY.\n", "O"][index % 4],
                                   "max_tokens": 20 + 13 * index, "seed": 1000 + index, "temperature": [0.8, 1.0, 1.3][index % 3]]
        if index % 2 == 0 { body["top_k"] = 20 } else { body["top_k"] = 0 }
        if index % 3 == 0 { body["top_p"] = 0.9 }
        return json(body)
    }

    private static func json(_ body: [String: Any]) -> Data { (try? JSONSerialization.data(withJSONObject: body)) ?? Data() }

    private static func generate(_ port: Int, _ data: Data) throws -> String {
        let response = try ServingEndToEndTests.request("POST", Self.path, bodyBytes: Array(data), headers: [:], port: port, timeout: 120)
        XCTAssertEqual(response.status, 200, response.body)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
        return try XCTUnwrap(answer["text"] as? String, response.body)
    }

    /// Runs `work` for every index on threads of its own, all at once, and returns the results in order.
    private static func concurrently<T>(_ count: Int, _ work: @escaping @Sendable (Int) throws -> T) -> [Result<T, Error>] {
        let results = ResultBox<T>(count)
        let threads = (0..<count).map { index in Thread { results.set(index, Result { try work(index) }) } }
        threads.forEach { $0.start() }
        return results.wait()
    }

    private func waitUntil(_ what: String, timeout: Double = 20, _ condition: () -> Bool) {
        let end = Date().addingTimeInterval(timeout)
        while !condition(), Date() < end { usleep(5_000) }
        XCTAssertTrue(condition(), what)
    }

    func testConcurrentGenerationsGiveEachSeedItsLoneTokens() throws {
        let batches = BatchLog()
        // Two workers, so two lanes of four: the largest batch below doesn't depend on the test machine's cores.
        var settings = InferenceScheduler.Settings()
        settings.workers = 2
        let service = try LiveService(models: ["shakespeare-lstm"], settings: settings, onBatch: { model, rows, requests, _ in
            if model == "shakespeare-lstm" { batches.record(rows: rows, requests: requests) }
        })
        let port = service.port
        let alone = try Self.bodies.map { try Self.generate(port, $0) }
        XCTAssertEqual(batches.largestBatch, 1, "one generation at a time never batches")
        let together = Self.concurrently(Self.bodies.count) { index in try Self.generate(port, Self.bodies[index]) }
        XCTAssertGreaterThanOrEqual(batches.largestBatch, 3, "eight generations at once should share steps")
        for (index, result) in together.enumerated() {
            XCTAssertEqual(try result.get(), alone[index], "seed \(1000 + index): alone vs batched")
        }
        // A lane removes its finished streams once the whole step is handled, a moment after their answers went out.
        waitUntil("every stream left its lane") { service.batcher.activeStreams["shakespeare-lstm", default: 0] == 0 }
        let done = DispatchSemaphore(value: 0)
        Task { await service.stop(); done.signal() }
        done.wait()

        // Step batching off (each step a lone request, as before it existed): the same seeds, the same tokens.
        let root = try TemporaryRepository.make("steps-off", with: ["shakespeare-lstm"])
        defer { try? FileManager.default.removeItem(at: root) }
        try editConfig(root) { config in
            var generation = config["generation"] as? [String: Any] ?? [:]
            generation["step_batching"] = false
            config["generation"] = generation
        }
        let lone = try LiveService(root: root)
        defer { stop(lone) }
        let lonePort = lone.port
        let loneTexts = Self.concurrently(Self.bodies.count) { index in try Self.generate(lonePort, Self.bodies[index]) }
        for (index, result) in loneTexts.enumerated() {
            XCTAssertEqual(try result.get(), alone[index], "seed \(1000 + index): step batching off vs on")
        }
        XCTAssertTrue(lone.batcher.activeStreams.isEmpty, "step batching off opens no lane")
    }

    func testStreamsJoinLeaveAndHangUpMidBatch() throws {
        let service = try LiveService(models: ["shakespeare-lstm"])
        defer { stop(service) }
        let port = service.port
        let long: [Data] = (0..<3).map { Self.json(["prompt": "ROMEO:", "max_tokens": 1200, "seed": 7 + $0, "top_k": 0]) }
        let shortLengths = [5, 9, 17, 33, 60]
        func shortBody(_ index: Int, stream: Bool) -> Data {
            Self.json(["prompt": "JULIET.\n", "max_tokens": shortLengths[index], "seed": 50 + index, "stream": stream])
        }
        let short = shortLengths.indices.map { shortBody($0, stream: $0 % 2 == 0) }
        let references = try (long + shortLengths.indices.map { shortBody($0, stream: false) }).map { try Self.generate(port, $0) }
        func active() -> Int { service.batcher.activeStreams["shakespeare-lstm", default: 0] }

        let longResults = ResultBox<String>(long.count)
        for (index, body) in long.enumerated() {
            Thread { longResults.set(index, Result { try Self.generate(port, body) }) }.start()
        }
        waitUntil("the long generations are in lanes") { active() == long.count }
        // A streaming client that will hang up mid-generation.
        let socket = try Self.openStream(port, Self.json(["prompt": "HAMLET.\n", "max_tokens": 4000, "seed": 99, "stream": true]))
        waitUntil("the streaming generation joined") { active() == long.count + 1 }
        // Short ones join the running lanes and leave them while the long ones go on (a streamed answer's text is
        // its `done` event's; `generate` reads a plain one, so streamed ones are compared through their events).
        let shortResults = Self.concurrently(short.count) { index in
            index % 2 == 0 ? try Self.streamedText(port, short[index]) : try Self.generate(port, short[index])
        }
        XCTAssertGreaterThan(active(), 0, "the long generations were still running while the short ones came and went")
        for (index, result) in shortResults.enumerated() {
            XCTAssertEqual(try result.get(), references[long.count + index], "short generation \(index)")
        }

        // The client that hangs up leaves its lane at a following step (4000 tokens would outlast the long ones).
        close(socket)
        waitUntil("the hung-up generation left its lane") { active() == long.count - longResults.finished }

        for (index, result) in longResults.wait().enumerated() {
            XCTAssertEqual(try result.get(), references[index], "long generation \(index)")
        }
        let model = try service.repository.model("shakespeare-lstm")
        waitUntil("every lane closes once empty") { active() == 0 && service.batcher.laneCount(of: model) == 0 }
    }

    /// A model gets one lane per worker before any lane takes a second stream (each lane computes on one core), then
    /// joining streams go to the emptiest lane; every stream still answers as it does alone.
    func testLanesSpreadOverTheWorkersBeforeFilling() throws {
        var settings = InferenceScheduler.Settings()
        settings.workers = 2
        let service = try LiveService(models: ["shakespeare-lstm"], settings: settings)
        defer { stop(service) }
        let port = service.port
        let model = try service.repository.model("shakespeare-lstm")
        let bodies: [Data] = (0..<3).map { Self.json(["prompt": "ROMEO:", "max_tokens": 1500, "seed": 21 + $0]) }
        let references = try bodies.map { try Self.generate(port, $0) }
        func active() -> Int { service.batcher.activeStreams["shakespeare-lstm", default: 0] }

        let results = ResultBox<String>(bodies.count)
        for (index, body) in bodies.enumerated() {
            Thread { results.set(index, Result { try Self.generate(port, body) }) }.start()
        }
        waitUntil("three generations are in lanes") { active() == bodies.count }
        XCTAssertEqual(service.batcher.laneCount(of: model), 2, "two workers: two lanes, the third stream shares one")
        for (index, result) in results.wait().enumerated() {
            XCTAssertEqual(try result.get(), references[index], "generation \(index): in a lane vs alone")
        }
        waitUntil("every lane closes once empty") { active() == 0 && service.batcher.laneCount(of: model) == 0 }
    }

    /// The scheduler joins the LSTM's requests along each tensor's configured batch axis (tokens on 0, h/c on 1) and
    /// hands each request its own rows: the same outputs as each run alone.
    func testSchedulerBatchesAlongTheConfiguredAxis() async throws {
        let model = try ModelRepository(root: SchedulerTests.models).load("shakespeare-lstm")
        XCTAssertEqual(model.batchAxes.input("h0"), 1)
        XCTAssertEqual(model.batchAxes.output("cn"), 1)
        XCTAssertEqual(model.batchAxes.input("tokens"), 0)
        XCTAssertTrue(model.interface.stepBatching)
        let gate = Gate(), batches = BatchLog()
        var settings = InferenceScheduler.Settings()
        settings.workers = 1
        let first = FirstCall()
        let scheduler = InferenceScheduler(settings: settings, onBatch: { _, rows, requests, _ in
            batches.record(rows: rows, requests: requests)
            if first.take() { gate.holdUntilOpened() }   // holds the only worker while the others queue
        })
        defer { scheduler.shutdown() }
        let requests: [[String: Tensor]] = (0..<3).map { index in
            let h = (0..<512).map { Float(($0 * (index + 3)) % 17) / 17 - 0.5 }
            let c = (0..<512).map { Float(($0 * (index + 5)) % 13) / 13 - 0.5 }
            return ["tokens": Tensor(shape: [1, 4], int64s: [Int64(index), 5, 9, Int64(20 + index)]),
                    "h0": Tensor(shape: [2, 1, 256], floats: h), "c0": Tensor(shape: [2, 1, 256], floats: c)]
        }
        let expected = try requests.map { try model.plan.run($0) }
        let blocker = Task { try await scheduler.infer(model, inputs: requests[0]) }
        gate.waitUntilHeld()
        let answers = try await withThrowingTaskGroup(of: (Int, [String: Tensor]).self) { group in
            for (index, inputs) in requests.enumerated() { group.addTask { (index, try await scheduler.infer(model, inputs: inputs).0) } }
            while scheduler.queueDepths["shakespeare-lstm", default: 0] < requests.count { try await Task.sleep(for: .milliseconds(2)) }
            gate.open()
            var answers = [[String: Tensor]](repeating: [:], count: requests.count)
            for try await (index, outputs) in group { answers[index] = outputs }
            return answers
        }
        _ = try await blocker.value
        XCTAssertEqual(batches.largestBatch, 3, "the three queued requests ran as one batch")
        for (index, (answer, reference)) in zip(answers, expected).enumerated() {
            for name in ["logits", "hn", "cn"] {
                XCTAssertEqual(answer[name]?.shape, reference[name]?.shape, "\(name) of request \(index)")
                XCTAssertEqual(answer[name]?.floatArray(), reference[name]?.floatArray(), "\(name) of request \(index)")
            }
        }
    }

    /// Without `batch_axis` the LSTM's states hold the batch on axis 0, which model.onnx fixes to 2: step batching is
    /// off by itself and generation still answers (one stream per step); asked for explicitly, the load fails.
    func testAModelWhoseStateCannotBatchStillGenerates() throws {
        let root = try TemporaryRepository.make("no-axis", with: ["shakespeare-lstm"])
        defer { try? FileManager.default.removeItem(at: root) }
        try editConfig(root) { config in
            for key in ["inputs", "outputs"] {
                config[key] = (config[key] as? [[String: Any]] ?? []).map { spec in spec.filter { $0.key != "batch_axis" } }
            }
        }
        let model = try ModelRepository(root: root).load("shakespeare-lstm")
        XCTAssertFalse(model.interface.stepBatching)
        let service = try LiveService(root: root)
        defer { stop(service) }
        let servicePort = service.port
        let texts = Self.concurrently(3) { index in try Self.generate(servicePort, Self.bodies[index]) }
        for result in texts { XCTAssertFalse(try result.get().isEmpty) }
        XCTAssertTrue(service.batcher.activeStreams.isEmpty, "no lane was opened")
    }

    /// A lane's shared steps count as the inference time of each request in them (for the overhead metric), not of
    /// the request that happened to open the lane.
    func testSharedStepsCountAsEachRequestsInferenceTime() throws {
        let request = try GenerateRequest(["prompt": "ab", "max_tokens": 3, "seed": 1], defaults: nil, accept: nil)
        let progress = try GenerationProgress(request, vocabulary: ["a", "b", " "])
        let account = ServingMetrics.InferenceTime()
        let stream = ServingMetrics.$inferenceTime.withValue(account) {
            GenerationStream(progress: progress, stepDeadline: .seconds(1), wantsTokens: false,
                             events: AsyncThrowingStream<GenerationStream.Event, Error>.makeStream().continuation)
        }
        let step = InferenceScheduler.Timing(queueSeconds: 0.001, computeSeconds: 0.002, batchSize: 4)
        stream.record(step)
        stream.record(step)
        XCTAssertEqual(account.runs, 2)
        XCTAssertEqual(account.nanoseconds, 6_000_000, accuracy: 10)
    }

    // MARK: Helpers

    private func editConfig(_ root: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = root.appendingPathComponent("shakespeare-lstm/config.json")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config).write(to: url)
    }

    private func stop(_ service: LiveService) {
        let done = DispatchSemaphore(value: 0)
        Task { await service.stop(); done.signal() }
        done.wait()
    }

    /// A streamed generation's text, from its `done` event (after checking the token events spell it out).
    private static func streamedText(_ port: Int, _ data: Data) throws -> String {
        let response = try ServingEndToEndTests.request("POST", Self.path, bodyBytes: Array(data), headers: [:], port: port, timeout: 120)
        XCTAssertEqual(response.status, 200, response.body)
        let events = response.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        let tokens = try events.filter { $0.hasPrefix("data: {\"token\"") }.map { event -> String in
            let object = try JSONSerialization.jsonObject(with: Data(event.dropFirst("data: ".count).utf8)) as? [String: Any]
            return try XCTUnwrap(object?["token"] as? String)
        }
        let done = try XCTUnwrap(events.last(where: { $0.hasPrefix("event: done") }), response.body)
        let json = try XCTUnwrap(done.components(separatedBy: "data: ").last)
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let text = try XCTUnwrap(result["text"] as? String)
        XCTAssertTrue(tokens.joined().hasPrefix(text), "the events spell the text")
        return text
    }

    /// A streaming generate request on a socket left open (the caller closes it: the client hanging up), once its
    /// first event has arrived.
    private static func openStream(_ port: Int, _ data: Data) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        let message = Array("POST \(Self.path) HTTP/1.1\r\nHost: test\r\nContent-Length: \(data.count)\r\n\r\n".utf8) + Array(data)
        _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var buffer = [UInt8](repeating: 0, count: 4096), received: [UInt8] = []
        while !String(decoding: received, as: UTF8.self).contains("data: {\"token\"") {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { close(fd); throw POSIXError(.ECONNRESET) }
            received += buffer[..<n]
        }
        return fd
    }
}

/// Results filled in by threads, read once all are in.
final class ResultBox<T>: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Result<T, Error>?]
    init(_ count: Int) { results = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ result: Result<T, Error>) { condition.withLock { results[index] = result; condition.broadcast() } }
    var finished: Int { condition.withLock { results.filter { $0 != nil }.count } }
    func wait() -> [Result<T, Error>] {
        condition.withLock {
            while results.contains(where: { $0 == nil }) { condition.wait() }
            return results.compactMap { $0 }
        }
    }
}

/// True the first time only.
final class FirstCall: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = false
    func take() -> Bool { lock.withLock { defer { taken = true }; return !taken } }
}
