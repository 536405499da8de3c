import Foundation
@testable import HTTPServer
import XCTest

final class BackPressureTests: XCTestCase {
    /// A client that doesn't read makes a streaming producer wait instead of growing our memory.
    func testStreamingProducerWaitsForASlowReader() throws {
        let produced = Locked(0)
        let piece = [UInt8](repeating: UInt8(ascii: "x"), count: 64 * 1024)
        let total = 16 * 1024 * 1024
        var limits = HTTPServerLimits.testDefaults
        limits.writeIdleTimeout = .seconds(5)
        let server = try makeTestServer(limits: limits) { router in
            router.get("/firehose") { _ in
                .stream(contentType: "application/octet-stream") { writer in
                    for _ in 0..<(total / piece.count) {
                        try await writer.write(piece)
                        produced.withLock { $0 += piece.count }
                    }
                }
            }
        }
        let client = try TestClient(port: server.port, timeout: 5)
        client.setReceiveBuffer(64 * 1024)
        client.send("GET /firehose HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.3)
        let whileStalled = produced.withLock { $0 }
        // Kernel socket buffers plus our watermark, far below what the producer wanted to send.
        XCTAssertLessThan(whileStalled, 8 * 1024 * 1024)
        let response = try XCTUnwrap(client.readUntilClose())
        XCTAssertEqual(response.body.count, total)
        XCTAssertEqual(produced.withLock { $0 }, total)
    }
}
