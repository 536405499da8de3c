import Foundation
@testable import Serving
import XCTest

/// ModelStreamInfer with the stock tritonclient[grpc] streaming API (Tests/ServingTests/Scripts/
/// kserve_grpc_stream_check.py): the LSTM's generation streamed token by token as Triton's decoupled models answer,
/// ordinary requests answered once each, errors answered on the stream; and the streamed text is the generate
/// route's for the same seed.
final class GRPCStreamTests: XCTestCase {
    func testStockClientStreamsGenerationTokenByToken() async throws {
        let service = try LiveService(models: ["shakespeare-lstm", "mnist-cnn"])
        let endpoint = try await GRPCClientTests.endpoint(for: service)
        let script = SchedulerTests.root.appendingPathComponent("Tests/ServingTests/Scripts/kserve_grpc_stream_check.py")
        let port = try await endpoint.port
        let (status, output) = try LiveService.run(["python3", script.path, "127.0.0.1:\(port)", SchedulerTests.root.path])
        let http = try ServingEndToEndTests.request(
            "POST", "/v1/models/shakespeare-lstm/generate", bodyBytes: Array(#"{"prompt": "ROMEO.\n", "max_tokens": 24, "seed": 42, "temperature": 0.7}"#.utf8),
            headers: [:], port: service.port, timeout: 60)
        await endpoint.shutdown(grace: .seconds(5))
        await service.stop()
        XCTAssertEqual(status, 0, "the streaming client failed:\n\(output.suffix(4000))")
        XCTAssertTrue(output.contains("ordinary requests on the stream, one response each, in order: ok"), output)
        XCTAssertTrue(output.contains("the stream goes on after errors: ok"), output)
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("text ") }, output)
        let streamed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.dropFirst(5).utf8), options: .fragmentsAllowed) as? String)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(http.body.utf8)) as? [String: Any], http.body)
        XCTAssertEqual(streamed, answer["text"] as? String, "gRPC and HTTP generate the same text for one seed")
        XCTAssertEqual(streamed.count, 24)
    }
}
