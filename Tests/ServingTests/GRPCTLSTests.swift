import Foundation
@testable import Serving
import XCTest

/// The gRPC listener with TLS on (PEM certificate and key, as `--tls-cert`/`--tls-key` give both listeners): the stock
/// tritonclient.grpc with `ssl=True` and the certificate as its root answers health, metadata and an inference; a
/// plaintext client is refused.
final class GRPCTLSTests: XCTestCase {
    func testStockClientOverTLSAndPlaintextRefused() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-grpc-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path, key = directory.appendingPathComponent("key.pem").path
        // gRPC checks the name against the subject alternative names, so the certificate names localhost and 127.0.0.1.
        let made = try LiveService.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                        "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        XCTAssertEqual(made.status, 0, "openssl failed or is missing (apt-get install openssl): \(made.output)")
        let service = try LiveService(models: ["mnist-cnn"])
        let endpoint = try await GRPCClientTests.endpoint(for: service, tls: (certificate: cert, key: key))
        let port = try await endpoint.port
        let script = """
        import sys, numpy as np, tritonclient.grpc as g
        from tritonclient.utils import InferenceServerException
        url, cert = sys.argv[1], sys.argv[2]
        client = g.InferenceServerClient(url, ssl=True, root_certificates=cert)
        assert client.is_server_live() and client.is_model_ready("mnist-cnn")
        assert client.get_model_metadata("mnist-cnn").inputs[0].name == "image"
        x = g.InferInput("image", [1, 1, 28, 28], "FP32"); x.set_data_from_numpy(np.zeros((1, 1, 28, 28), np.float32))
        print("tls infer", client.infer("mnist-cnn", [x]).as_numpy("logits").shape, flush=True)
        try:
            g.InferenceServerClient(url).is_server_live(client_timeout=5)
            print("plaintext answered")
        except InferenceServerException as error:
            print("plaintext refused:", error.status())
        """
        let (status, output) = try LiveService.run(["python3", "-c", script, "localhost:\(port)", cert])
        await endpoint.shutdown(grace: .seconds(5))
        await service.stop()
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("tls infer (1, 10)"), output)
        XCTAssertTrue(output.contains("plaintext refused: StatusCode.UNAVAILABLE"), output)
        XCTAssertFalse(output.contains("plaintext answered"), output)
    }
}
