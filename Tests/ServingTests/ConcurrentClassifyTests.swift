import Foundation
@testable import HTTPServer
import XCTest
@testable import Serving

/// 200 clients at once, each on its own connection, classifying PNG digits over HTTP: every one is answered 200
/// with the answer the same image gets alone (batching must hand each request its own slice). Batched and single runs
/// may round differently in the last bits (another GEMM path), so probabilities are compared to 1e-5.
final class ConcurrentClassifyTests: XCTestCase {
    func testTwoHundredConcurrentClassifyRequestsAreAllAnsweredCorrectly() async throws {
        var settings = InferenceScheduler.Settings()
        settings.defaultQueueSize = 256   // room for all 200 (the default 128 would answer some 503, by design)
        let service = try LiveService(models: ["mnist-cnn"], settings: settings)
        let port = service.port

        let pngs = try (0..<20).map { index in
            [UInt8](try Data(contentsOf: ServingEndToEndTests.heldout.appendingPathComponent(String(format: "%03d.png", index))))
        }
        @Sendable func classify(_ png: [UInt8]) throws -> (status: Int, body: String) {
            let response = try ServingEndToEndTests.request("POST", "/v1/models/mnist-cnn/classify", bodyBytes: png,
                                                            headers: ["Content-Type": "image/png"], port: port)
            return (response.status, response.body)
        }
        func predictions(_ body: String) -> [(label: String, probability: Double)] {
            let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]
            return (object?["predictions"] as? [[String: Any]] ?? []).map { ($0["label"] as? String ?? "?", $0["probability"] as? Double ?? -1) }
        }
        // Each image alone first: the answers the concurrent run must reproduce.
        let alone = try pngs.map { png in
            let answer = try classify(png)
            XCTAssertEqual(answer.status, 200, answer.body)
            return predictions(answer.body)
        }

        let results = Locked<[Int: (status: Int, body: String)]>([:])
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        for client in 0..<200 {
            group.enter()
            let thread = Thread {
                start.wait()   // all connect at once
                let answer = (try? classify(pngs[client % pngs.count])) ?? (status: -1, body: "no answer")
                results.withLock { $0[client] = answer }
                group.leave()
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
        for _ in 0..<200 { start.signal() }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success, "every client got an answer in time")
        let answers = results.withLock { $0 }
        XCTAssertEqual(answers.count, 200)
        for client in 0..<200 {
            XCTAssertEqual(answers[client]?.status, 200, "client \(client): \(answers[client]?.body ?? "")")
            let got = predictions(answers[client]?.body ?? ""), expected = alone[client % pngs.count]
            XCTAssertEqual(got.map(\.label), expected.map(\.label), "client \(client) got another image's answer")
            for (a, b) in zip(got, expected) { XCTAssertEqual(a.probability, b.probability, accuracy: 1e-5, "client \(client)") }
        }
        await service.stop()
    }
}
