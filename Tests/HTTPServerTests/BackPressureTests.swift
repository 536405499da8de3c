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
        // The producer must start, then stall: the count stops moving while the client reads nothing. A producer that
        // never started, or one that ran to the end, fails here.
        let started = Date()
        var whileStalled = produced.withLock { $0 }
        var unchangedSince = Date()
        while Date().timeIntervalSince(started) < 10 {
            Thread.sleep(forTimeInterval: 0.05)
            let now = produced.withLock { $0 }
            if now != whileStalled {
                whileStalled = now
                unchangedSince = Date()
            } else if whileStalled > 0 && Date().timeIntervalSince(unchangedSince) >= 0.3 {
                break
            }
        }
        XCTAssertGreaterThan(whileStalled, 0, "the producer started")
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(unchangedSince), 0.3, "the producer stalled")
        // Kernel socket buffers plus our watermark, far below what the producer wanted to send.
        XCTAssertLessThan(whileStalled, 8 * 1024 * 1024)
        let response = try XCTUnwrap(client.readUntilClose())
        XCTAssertEqual(response.body.count, total)
        XCTAssertEqual(produced.withLock { $0 }, total)
    }

    /// A client that stops reading altogether is cut off after the write-idle timeout, and its memory freed, while the
    /// producer is told the connection is gone.
    func testAClientThatNeverReadsIsClosedAfterTheWriteIdleTimeout() throws {
        let producerStopped = Locked(false)
        let piece = [UInt8](repeating: UInt8(ascii: "y"), count: 64 * 1024)
        var limits = HTTPServerLimits.testDefaults
        limits.writeIdleTimeout = .milliseconds(400)
        let server = try makeTestServer(limits: limits) { router in
            router.get("/firehose") { _ in
                .stream(contentType: "application/octet-stream") { writer in
                    do {
                        while true { try await writer.write(piece) }
                    } catch {
                        producerStopped.withLock { $0 = true }
                        throw error
                    }
                }
            }
        }
        let client = try TestClient(port: server.port, timeout: 5)
        client.setReceiveBuffer(16 * 1024)
        client.send("GET /firehose HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in 0..<600 where server.openConnections == 0 { Thread.sleep(forTimeInterval: 0.005) }
        let start = Date()
        var waited = 0.0
        while server.openConnections > 0 && waited < 5 {
            Thread.sleep(forTimeInterval: 0.05)
            waited = Date().timeIntervalSince(start)
        }
        XCTAssertEqual(server.openConnections, 0, "the stalled connection should be closed")
        XCTAssertGreaterThanOrEqual(waited, 0.35, "not before the write-idle timeout")
        XCTAssertLessThan(waited, 3, "soon after it")
        Thread.sleep(forTimeInterval: 0.1)
        XCTAssertTrue(producerStopped.withLock { $0 }, "the producer learns the client is gone")
    }
}
