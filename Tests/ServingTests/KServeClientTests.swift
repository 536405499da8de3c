import Foundation
import XCTest

/// NVIDIA's tritonclient (a stock KServe V2 / Open Inference Protocol client, from PyPI) drives the live service
/// unchanged: health, metadata, and inference with tensors as JSON and as raw binary both ways
/// (Tests/ServingTests/Scripts/kserve_client_check.py).
final class KServeClientTests: XCTestCase {
    func testStockKServeClientWorksUnchanged() async throws {
        let service = try LiveService()
        let script = SchedulerTests.root.appendingPathComponent("Tests/ServingTests/Scripts/kserve_client_check.py")
        let (status, output) = try LiveService.run(["python3", script.path, "127.0.0.1:\(service.port)", SchedulerTests.root.path])
        await service.stop()
        XCTAssertEqual(status, 0, "the KServe client failed:\n\(output.suffix(4000))")
        XCTAssertTrue(output.contains("binary input True, binary output True"), output)
    }
}
