import Foundation
import Logging
@testable import Serving
import XCTest

/// NVIDIA's tritonclient[grpc] (a stock KServe V2 gRPC client, from PyPI) drives the gRPC listener unchanged:
/// health (KServe's and grpc.health.v1), metadata, inference with raw and typed contents on the digit CNN and the
/// LSTM, an unknown model, bad shapes, and the repository extension with a missing, a wrong and the right token
/// (Tests/ServingTests/Scripts/kserve_grpc_client_check.py).
final class GRPCClientTests: XCTestCase {
    func testStockGRPCClientWorksUnchanged() async throws {
        let token = "grpc-test-token"
        let service = try LiveService(adminToken: token)
        let endpoint = try await Self.endpoint(for: service)
        let script = SchedulerTests.root.appendingPathComponent("Tests/ServingTests/Scripts/kserve_grpc_client_check.py")
        let port = try await endpoint.port
        let (status, output) = try LiveService.run(["python3", script.path, "127.0.0.1:\(port)", SchedulerTests.root.path, token])
        await endpoint.shutdown(grace: .seconds(5))
        await service.stop()
        XCTAssertEqual(status, 0, "the gRPC client failed:\n\(output.suffix(4000))")
        XCTAssertTrue(output.contains("infer mnist-cnn, typed contents: equal to the raw answer ok"), output)
        XCTAssertTrue(output.contains("repository index, unload and load with the token: ok"), output)
    }

    /// Calls in flight when the drain starts are all answered; a call after it is refused.
    func testShutdownDrainsCallsInFlight() async throws {
        // One worker and big batches: the calls queue up behind each other, so the drain starts with calls waiting.
        var settings = InferenceScheduler.Settings()
        settings.workers = 1
        let service = try LiveService(models: ["mnist-cnn"], settings: settings)
        let endpoint = try await Self.endpoint(for: service)
        let port = try await endpoint.port
        let script = """
        import sys, threading, time, numpy as np, tritonclient.grpc as g
        client = g.InferenceServerClient(url=sys.argv[1])
        image = g.InferInput("image", [256, 1, 28, 28], "FP32"); image.set_data_from_numpy(np.zeros((256, 1, 28, 28), np.float32))
        results = []
        def call():
            try: results.append(client.infer("mnist-cnn", [image]).as_numpy("logits").shape)
            except Exception as error: results.append(repr(error))
        threads = [threading.Thread(target=call) for _ in range(16)]
        for thread in threads: thread.start()
        print("started", flush=True)
        for thread in threads: thread.join()
        print("answered", sum(1 for r in results if r == (256, 10)), "of", len(results), flush=True)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, "127.0.0.1:\(port)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // Drain as soon as calls are waiting in the scheduler's queue.
        var waited = 0
        while (service.scheduler.queueDepths["mnist-cnn"] ?? 0) < 2, waited < 3000 {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        XCTAssertGreaterThanOrEqual(service.scheduler.queueDepths["mnist-cnn"] ?? 0, 2, "the calls never queued")
        await endpoint.shutdown(grace: .seconds(60))
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        await service.stop()
        XCTAssertTrue(output.contains("answered 16 of 16"), output)
    }

    static func endpoint(for service: LiveService, tls: (certificate: String, key: String)? = nil) async throws -> GRPCEndpoint {
        var settings = GRPCEndpoint.Settings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.tls = tls
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await GRPCEndpoint(service: service.service, settings: settings, logger: logger)
    }
}
