import Engine
import Foundation
import Glibc
import HTTPServer
import Logging
import Metrics
import Prometheus
import XCTest
@testable import Serving

/// The serving endpoints over real loopback sockets, against the shipped models.
final class ServingEndToEndTests: XCTestCase {
    nonisolated(unsafe) static var server: HTTPServer!
    nonisolated(unsafe) static var service: ServingService!

    override class func setUp() {
        let repository = ModelRepository(root: SchedulerTests.models)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        try! repository.loadAll(logger: logger)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let scheduler = InferenceScheduler()
        service = ServingService(repository: repository, scheduler: scheduler, metricsText: { registry.emitToString() })
        var router = Router()
        service.register(on: &router)
        // As `deepserve serve` does: handlers run on the inference workers.
        server = try! HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, handlerExecutor: scheduler.taskExecutor),
                                 router: router, logger: logger)
    }

    override class func tearDown() {
        let done = DispatchSemaphore(value: 0)
        Task { await server.shutdown(); done.signal() }
        done.wait()
        service.scheduler.shutdown()
    }

    func request(_ method: String, _ path: String, body: String = "", headers: [String: String] = [:]) throws
        -> (status: Int, headers: [String: String], body: String)
    {
        try Self.request(method, path, body: body, headers: headers)
    }

    /// One request on its own connection: status, headers and body.
    static func request(_ method: String, _ path: String, body: String = "", headers: [String: String] = [:]) throws
        -> (status: Int, headers: [String: String], body: String)
    {
        try request(method, path, bodyBytes: Array(body.utf8), headers: headers)
    }

    static func request(_ method: String, _ path: String, bodyBytes: [UInt8], headers: [String: String], port: Int? = nil,
                        timeout seconds: Int = 10) throws
        -> (status: Int, headers: [String: String], body: String)
    {
        let response = try rawRequest(method, path, bodyBytes: bodyBytes, headers: headers, port: port, timeout: seconds)
        var payload = String(decoding: response.body, as: UTF8.self)
        if response.headers["transfer-encoding"] == "chunked" { payload = Self.dechunk(payload) }
        return (response.status, response.headers, payload)
    }

    /// One request on its own connection; the body as bytes, not de-chunked.
    static func rawRequest(_ method: String, _ path: String, bodyBytes: [UInt8], headers: [String: String], port: Int? = nil,
                           timeout seconds: Int = 10) throws
        -> (status: Int, headers: [String: String], body: [UInt8])
    {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port ?? Self.server.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: \(bodyBytes.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let message = Array((head + "\r\n").utf8) + bodyBytes
        _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[..<n]
        }
        guard let split = received.indices.first(where: { received[$0...].starts(with: Array("\r\n\r\n".utf8)) }) else {
            throw POSIXError(.EPROTO)
        }
        let lines = String(decoding: received[..<split], as: UTF8.self).split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, fields, Array(received[(split + 4)...]))
    }

    static func dechunk(_ text: String) -> String {
        var rest = Substring(text), out = ""
        while let line = rest.range(of: "\r\n"), let size = Int(rest[..<line.lowerBound], radix: 16), size > 0 {
            let start = line.upperBound
            let bytes = Array(rest[start...].utf8)
            out += String(decoding: bytes.prefix(size), as: UTF8.self)
            rest = Substring(String(decoding: bytes.dropFirst(size + 2), as: UTF8.self))
        }
        return out
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    /// Metrics are made once per route, status and model and then reused (`MetricsCache`): each request must still
    /// land on its own model's and its own route and status's series, counted once.
    func testCachedMetricsCountEachModelRouteAndStatus() throws {
        func values() throws -> [String: Double] {
            let body = try request("GET", "/metrics").body
            var values: [String: Double] = [:]
            for line in body.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                values[String(line[..<space])] = value
            }
            return values
        }
        let png = try [UInt8](Data(contentsOf: SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/000.png")))
        let classify = "/v1/models/mnist-cnn/classify", reconstruct = "/v1/models/mnist-autoencoder/reconstruct"
        // Once so that every series exists before the counts are taken.
        for path in [classify, reconstruct] {
            XCTAssertEqual(try Self.request("POST", path, bodyBytes: png, headers: ["Content-Type": "image/png"]).status, 200)
        }
        XCTAssertEqual(try Self.request("POST", classify, bodyBytes: Array(png.prefix(40)), headers: ["Content-Type": "image/png"]).status, 400)
        let before = try values()
        for _ in 0..<3 { XCTAssertEqual(try Self.request("POST", classify, bodyBytes: png, headers: ["Content-Type": "image/png"]).status, 200) }
        XCTAssertEqual(try Self.request("POST", reconstruct, bodyBytes: png, headers: ["Content-Type": "image/png"]).status, 200)
        for _ in 0..<2 { XCTAssertEqual(try Self.request("POST", classify, bodyBytes: Array(png.prefix(40)), headers: ["Content-Type": "image/png"]).status, 400) }
        let after = try values()
        func delta(_ series: String) -> Double { (after[series] ?? -1_000) - (before[series] ?? 0) }
        XCTAssertEqual(delta(#"deepserve_inference_requests_total{model="mnist-cnn"}"#), 3)
        XCTAssertEqual(delta(#"deepserve_inference_requests_total{model="mnist-autoencoder"}"#), 1)
        XCTAssertEqual(delta(#"deepserve_inference_compute_seconds_count{model="mnist-autoencoder"}"#), 1)
        XCTAssertEqual(delta(#"deepserve_http_requests_total{route="/v1/models/{name}/classify",status="200"}"#), 3)
        XCTAssertEqual(delta(#"deepserve_http_requests_total{route="/v1/models/{name}/classify",status="400"}"#), 2)
        XCTAssertEqual(delta(#"deepserve_http_requests_total{route="/v1/models/{name}/reconstruct",status="200"}"#), 1)
        XCTAssertEqual(delta(#"deepserve_http_request_duration_seconds_count{route="/v1/models/{name}/classify"}"#), 5)
        // Only answered requests that ran a model have an overhead.
        XCTAssertEqual(delta(#"deepserve_request_overhead_seconds_count{route="/v1/models/{name}/classify"}"#), 3)
        XCTAssertGreaterThan(ServingMetrics.Handles.requests.count, 0, "the metrics are kept once bootstrapped")
    }

    /// Metric updates a worker holds back (`DeferredMetrics`) are in the next scrape even while that worker is busy
    /// and has not applied them itself.
    func testMetricsHeldByABusyWorkerAreInTheNextScrape() throws {
        let buffer = DeferredMetrics.Buffer()
        let submitted = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let route = "/test/held-\(UUID().uuidString)"
        let worker = Thread {
            DeferredMetrics.holding(in: buffer) {
                DeferredMetrics.submit(.request(route: route, status: 200, nanoseconds: 1_000, overheadNanoseconds: nil))
                submitted.signal()
                release.wait()
            }
        }
        worker.start()
        defer { release.signal() }
        submitted.wait()
        XCTAssertFalse(buffer.isEmpty, "the update is held, not applied")
        let body = try request("GET", "/metrics").body
        XCTAssertTrue(body.contains(#"deepserve_http_requests_total{route="\#(route)",status="200"} 1"#), body)
        XCTAssertTrue(buffer.isEmpty)
    }

    func testHealthAndServerMetadata() throws {
        XCTAssertEqual(try request("GET", "/health/live").status, 200)
        XCTAssertEqual(try request("GET", "/health/ready").status, 200)
        XCTAssertEqual(try request("GET", "/v2/health/ready").status, 200)
        XCTAssertEqual(try json(try request("GET", "/v2").body)["name"] as? String, "deepserve")
    }

    func testControlAPIIsOffWithoutAToken() throws {
        XCTAssertEqual(try request("POST", "/v2/repository/index").status, 404)
    }

    func testModelMetadataAndReadiness() throws {
        let metadata = try json(try request("GET", "/v2/models/mnist-cnn").body)
        XCTAssertEqual(metadata["versions"] as? [String], ["1"])
        let inputs = try XCTUnwrap(metadata["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.first?["shape"] as? [Int], [-1, 1, 28, 28])
        XCTAssertEqual(try request("GET", "/v2/models/mnist-cnn/versions/1/ready").status, 200)
        XCTAssertEqual(try request("GET", "/v2/models/mnist-cnn/versions/7").status, 404)
        XCTAssertEqual(try request("GET", "/v2/models/nothing-here").status, 404)
        XCTAssertEqual(try request("GET", "/v2/models/..%2F..%2Fetc").status, 400)
    }

    func testV2InferClassifiesADigit() throws {
        let images = try NumpyFile.read(contentsOf: SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/images.npy"))
        let labels = try NumpyFile.read(contentsOf: SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/labels.npy"))
        let pixels = images.rows(0..<2).floatArray().map { "\($0)" }.joined(separator: ",")
        let body = #"{"id":"req-1","inputs":[{"name":"image","shape":[2,1,28,28],"datatype":"FP32","data":[\#(pixels)]}]}"#
        let response = try request("POST", "/v2/models/mnist-cnn/infer", body: body, headers: ["Content-Type": "application/json"])
        XCTAssertEqual(response.status, 200, response.body)
        let object = try json(response.body)
        XCTAssertEqual(object["id"] as? String, "req-1")
        let output = try XCTUnwrap((object["outputs"] as? [[String: Any]])?.first)
        XCTAssertEqual(output["shape"] as? [Int], [2, 10])
        let logits = try XCTUnwrap(output["data"] as? [Double])
        for row in 0..<2 {
            let predicted = (0..<10).max { logits[row * 10 + $0] < logits[row * 10 + $1] }!
            XCTAssertEqual(Int64(predicted), labels.int64Array()[row])
        }
    }

    func testV2InferErrors() throws {
        let cases: [(String, Int, String)] = [
            ("not json", 400, "not valid JSON"),
            (#"{"inputs":[]}"#, 400, "inputs"),
            (#"{"inputs":[{"name":"image","shape":[1,3],"datatype":"FP32","data":[1,2,3]}]}"#, 400, "must have shape"),
            (#"{"inputs":[{"name":"image","shape":[1,2],"datatype":"FP32","data":[1,2,3]}]}"#, 400, "3 values for shape"),
            (#"{"inputs":[{"name":"pixels","shape":[1],"datatype":"FP32","data":[1]}]}"#, 400, "unknown input"),
            (#"{"inputs":[{"name":"image","shape":[1],"datatype":"FP16","data":[1]}]}"#, 400, "FP16 is not supported"),
            (#"{"inputs":[{"name":"image","shape":[1],"datatype":"FP32","data":["x"]}]}"#, 400, "non-numeric"),
        ]
        for (body, status, message) in cases {
            let response = try request("POST", "/v2/models/mnist-cnn/infer", body: body)
            XCTAssertEqual(response.status, status, body)
            XCTAssertTrue(response.body.contains(message), "\(body) → \(response.body)")
            XCTAssertNoThrow(try json(response.body), "errors are JSON")
        }
        XCTAssertEqual(try request("POST", "/v2/models/mnist-cnn/infer", body: "{}", headers: ["Content-Type": "image/png"]).status, 415)
        XCTAssertEqual(try request("POST", "/v2/models/absent/infer", body: "{}").status, 404)
    }

    func testGenerationIsDeterministicForASeed() throws {
        let body = #"{"prompt":"ROMEO.\n","max_tokens":60,"seed":1,"temperature":0.8,"top_k":20}"#
        let first = try json(try request("POST", "/v1/models/shakespeare-lstm/generate", body: body).body)
        let second = try json(try request("POST", "/v1/models/shakespeare-lstm/generate", body: body).body)
        let text = try XCTUnwrap(first["text"] as? String)
        XCTAssertEqual(text.count, 60)
        XCTAssertEqual(first["finish_reason"] as? String, "length")
        XCTAssertEqual(text, second["text"] as? String)
        let other = try json(try request("POST", "/v1/models/shakespeare-lstm/generate",
                                         body: #"{"prompt":"ROMEO.\n","max_tokens":60,"seed":2}"#).body)
        XCTAssertNotEqual(text, other["text"] as? String)
    }

    func testGenerationStopsAtAStopString() throws {
        let body = #"{"prompt":"KING.\n","max_tokens":400,"seed":3,"stop":"\n"}"#
        let result = try json(try request("POST", "/v1/models/shakespeare-lstm/generate", body: body).body)
        XCTAssertEqual(result["finish_reason"] as? String, "stop")
        XCTAssertFalse((result["text"] as? String ?? "\n").contains("\n"))
    }

    func testGenerationStreamsServerSentEvents() throws {
        let response = try request("POST", "/v1/models/shakespeare-lstm/generate",
                                   body: #"{"prompt":"ROMEO.\n","max_tokens":12,"seed":5}"#, headers: ["Accept": "text/event-stream"])
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["content-type"], "text/event-stream")
        let events = response.body.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertEqual(events.filter { $0.hasPrefix("data: {\"token\"") }.count, 12, response.body)
        XCTAssertTrue(events.last?.hasPrefix("event: done") ?? false, response.body)
    }

    func testMetricsShowRequestsBatchesAndQueues() async throws {
        // Two requests over HTTP for the request counters, then 128 at once through the scheduler: those batch.
        let images = try NumpyFile.read(contentsOf: SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout/images.npy"))
        let pixels = images.rows(0..<1).floatArray().map { "\($0)" }.joined(separator: ",")
        let body = #"{"inputs":[{"name":"image","shape":[1,1,28,28],"datatype":"FP32","data":[\#(pixels)]}]}"#
        for _ in 0..<2 { XCTAssertEqual(try Self.request("POST", "/v2/models/mnist-cnn/infer", body: body).status, 200) }
        let model = try Self.service.repository.model("mnist-cnn")
        let scheduler = Self.service.scheduler
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<128 {
                group.addTask { _ = try await scheduler.infer(model, inputs: ["image": images.rows(index..<(index + 1))]) }
            }
            try await group.waitForAll()
        }
        let metrics = try request("GET", "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.headers["content-type"]?.hasPrefix("text/plain") ?? false)
        func value(_ prefix: String) -> Double {
            metrics.body.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
        }
        XCTAssertGreaterThanOrEqual(value(#"deepserve_inference_requests_total{model="mnist-cnn"}"#), 2, metrics.body)
        let rows = value(#"deepserve_inference_rows_total{model="mnist-cnn"}"#)
        let executions = value(#"deepserve_inference_executions_total{model="mnist-cnn"}"#)
        XCTAssertGreaterThanOrEqual(rows, 130)
        XCTAssertLessThan(executions, rows, "batching: fewer executions than rows")
        XCTAssertTrue(metrics.body.contains(#"deepserve_http_requests_total{route="/v2/models/{name}/infer",status="200"}"#), metrics.body)
        XCTAssertTrue(metrics.body.contains(#"deepserve_queue_depth{model="mnist-cnn"} 0"#))
        XCTAssertTrue(metrics.body.contains(#"deepserve_model_loaded_version{model="shakespeare-lstm"} 1"#))
        XCTAssertTrue(metrics.body.contains("deepserve_inference_compute_seconds_bucket"))
        // Requests that ran a model also report the time they spent neither queued nor computing.
        let overheadCount = value(#"deepserve_request_overhead_seconds_count{route="/v2/models/{name}/infer"}"#)
        XCTAssertGreaterThanOrEqual(overheadCount, 2, metrics.body)
        let overheadSum = value(#"deepserve_request_overhead_seconds_sum{route="/v2/models/{name}/infer"}"#)
        let durationSum = value(#"deepserve_http_request_duration_seconds_sum{route="/v2/models/{name}/infer"}"#)
        XCTAssertGreaterThan(overheadSum, 0)
        XCTAssertLessThan(overheadSum, durationSum, "overhead is part of the request time")
    }

    static let heldout = SchedulerTests.root.appendingPathComponent("Tests/Fixtures/models/mnist-heldout")

    func testClassifyAPNGDigit() throws {
        let labels = try String(contentsOf: Self.heldout.appendingPathComponent("labels.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        var correct = 0
        for row in labels.prefix(20) {
            let png = try Data(contentsOf: Self.heldout.appendingPathComponent(String(row[0])))
            let response = try Self.requestBytes("POST", "/v1/models/mnist-cnn/classify?top_k=3", body: [UInt8](png), contentType: "image/png")
            XCTAssertEqual(response.status, 200, response.body)
            let predictions = try XCTUnwrap(try json(response.body)["predictions"] as? [[String: Any]])
            XCTAssertEqual(predictions.count, 3)
            if predictions.first?["label"] as? String == String(row[1]) { correct += 1 }
        }
        XCTAssertGreaterThanOrEqual(correct, 19, "the CNN gets ~98.5 % of these digits right")
    }

    func testClassifySeveralBase64ImagesInOneRequest() throws {
        let names = ["000.png", "001.png", "002.png"]
        let images = try names.map { try Data(contentsOf: Self.heldout.appendingPathComponent($0)).base64EncodedString() }
        let body = #"{"images":[\#(images.map { "\"\($0)\"" }.joined(separator: ","))]}"#
        let response = try request("POST", "/v1/models/mnist-cnn/classify", body: body, headers: ["Content-Type": "application/json"])
        XCTAssertEqual(response.status, 200, response.body)
        let results = try XCTUnwrap(try json(response.body)["results"] as? [[String: Any]])
        XCTAssertEqual(results.count, 3)
        let probabilities = (results[0]["predictions"] as? [[String: Any]])?.compactMap { $0["probability"] as? Double } ?? []
        XCTAssertEqual(probabilities.count, 3, "top_k defaults to the config's 3")
        XCTAssertEqual(probabilities, probabilities.sorted(by: >))
    }

    func testClassifyRejectsBadImages() throws {
        let png = [UInt8](try Data(contentsOf: Self.heldout.appendingPathComponent("000.png")))
        XCTAssertEqual(try Self.requestBytes("POST", "/v1/models/mnist-cnn/classify", body: Array(png.prefix(40)), contentType: "image/png").status, 400)
        XCTAssertEqual(try Self.requestBytes("POST", "/v1/models/mnist-cnn/classify", body: Array("GIF89a....".utf8), contentType: "image/gif").status, 415)
        XCTAssertEqual(try request("POST", "/v1/models/mnist-cnn/classify", body: "hello", headers: ["Content-Type": "text/plain"]).status, 415)
        XCTAssertEqual(try request("POST", "/v1/models/mnist-cnn/classify?top_k=0", body: "x", headers: ["Content-Type": "image/png"]).status, 400)
        XCTAssertEqual(try request("POST", "/v1/models/shakespeare-lstm/classify", body: "x", headers: ["Content-Type": "image/png"]).status, 400)
        // A PNG header claiming 100000 × 100000 pixels: refused before anything is allocated.
        var bomb: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let ihdr: [UInt8] = Array("IHDR".utf8) + [0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0, 8, 0, 0, 0, 0]
        bomb += [0, 0, 0, 13] + ihdr + Self.crc32(ihdr)
        XCTAssertEqual(try Self.requestBytes("POST", "/v1/models/mnist-cnn/classify", body: bomb, contentType: "image/png").status, 413)
    }

    func testReconstructFlagsNonDigits() throws {
        let digit = [UInt8](try Data(contentsOf: Self.heldout.appendingPathComponent("000.png")))
        let answer = try json(try Self.requestBytes("POST", "/v1/models/mnist-autoencoder/reconstruct", body: digit, contentType: "image/png").body)
        XCTAssertEqual(answer["anomaly"] as? Bool, false)
        XCTAssertEqual((answer["latent"] as? [Double])?.count, 16)
        XCTAssertLessThan(answer["error"] as? Double ?? 1, 0.0343)
        XCTAssertNotNil(Data(base64Encoded: answer["reconstruction"] as? String ?? ""))
        // A 28×28 checkerboard is nothing like a digit.
        var board: [UInt8] = []
        for y in 0..<28 { for x in 0..<28 { board.append((x / 2 + y / 2) % 2 == 0 ? 255 : 0) } }
        let pgm = Array("P5\n28 28\n255\n".utf8) + board
        let noise = try json(try Self.requestBytes("POST", "/v1/models/mnist-autoencoder/reconstruct", body: pgm, contentType: "image/x-portable-graymap").body)
        XCTAssertEqual(noise["anomaly"] as? Bool, true, "\(noise["error"] ?? "")")
        let png = try Self.request("POST", "/v1/models/mnist-autoencoder/reconstruct", bodyBytes: digit,
                                   headers: ["Content-Type": "image/png", "Accept": "image/png"])
        XCTAssertEqual(png.headers["content-type"], "image/png")
        XCTAssertEqual(try request("POST", "/v1/models/mnist-cnn/reconstruct", body: "x", headers: ["Content-Type": "image/png"]).status, 400)
    }

    func testSamplesAreSeededAndValidated() throws {
        let first = try json(try request("POST", "/v1/models/mnist-gan/sample", body: #"{"count":4,"seed":9}"#).body)
        let again = try json(try request("POST", "/v1/models/mnist-gan/sample", body: #"{"count":4,"seed":9}"#).body)
        XCTAssertEqual((first["images"] as? [String])?.count, 4)
        XCTAssertEqual(first["images"] as? [String], again["images"] as? [String], "same seed, same digits")
        let walk = try json(try request("POST", "/v1/models/mnist-gan/sample", body: #"{"interpolate":{"from":1,"to":2,"steps":5}}"#).body)
        XCTAssertEqual(walk["count"] as? Int, 5)
        let grid = try request("POST", "/v1/models/mnist-gan/sample", body: #"{"count":10,"seed":1}"#, headers: ["Accept": "image/png"])
        XCTAssertEqual(grid.headers["content-type"], "image/png")
        for body in [#"{"count":0}"#, #"{"count":1000}"#, #"{"latent":[[1,2]]}"#, #"{"interpolate":{"from":1}}"#] {
            XCTAssertEqual(try request("POST", "/v1/models/mnist-gan/sample", body: body).status, 400, body)
        }
    }

    static func crc32(_ bytes: [UInt8]) -> [UInt8] {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        return [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
    }

    static func requestBytes(_ method: String, _ path: String, body: [UInt8], contentType: String) throws
        -> (status: Int, headers: [String: String], body: String)
    {
        try request(method, path, bodyBytes: body, headers: ["Content-Type": contentType])
    }

    func testGenerationRejectsBadRequests() throws {
        for body in [#"{}"#, #"{"prompt":5}"#, #"{"prompt":"a","max_tokens":0}"#, #"{"prompt":"a","temperature":-1}"#,
                     #"{"prompt":"a","top_p":0}"#, #"{"prompt":"a","stop":3}"#] {
            XCTAssertEqual(try request("POST", "/v1/models/shakespeare-lstm/generate", body: body).status, 400, body)
        }
        XCTAssertEqual(try request("POST", "/v1/models/mnist-cnn/generate", body: #"{"prompt":"a"}"#).status, 400)
    }
}
