import Foundation
import Glibc
@testable import HTTPServer
import XCTest

/// A client that hangs up before its answer cancels the handler's task, so a handler can stop expensive work early.
final class CancellationTests: XCTestCase {
    func testAHandlerSeesCancellationWhenTheClientGoesAway() throws {
        let started = DispatchSemaphore(value: 0)
        let cancelled = DispatchSemaphore(value: 0)
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/long") { _ in
                started.signal()
                // Up to 20 s of "work" in steps, checking between them as a real handler would.
                for _ in 0..<1000 where !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                if Task.isCancelled { cancelled.signal() }
                return .text(.ok, "finished")
            }
        }
        let client = try TestClient(port: server.port)
        client.send("GET /long HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(started.wait(timeout: .now() + 5), .success, "the handler started")
        _ = Glibc.shutdown(client.fd, Int32(SHUT_RDWR))
        XCTAssertEqual(cancelled.wait(timeout: .now() + 5), .success, "the handler saw Task.isCancelled after the client left")
    }

    func testAStreamProducerSeesCancellationWhenTheClientGoesAway() throws {
        let cancelled = DispatchSemaphore(value: 0)
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/events") { _ in
                .stream(contentType: "text/event-stream") { writer in
                    try await writer.write("data: hello\n\n")
                    // An event stream with nothing to say for a long while: no write would notice the client left.
                    for _ in 0..<1000 where !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                    if Task.isCancelled { cancelled.signal() }
                }
            }
        }
        let client = try TestClient(port: server.port, timeout: 0.5)
        client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = client.readResponse()  // the head and first event arrive; the chunked body never ends, so this times out
        _ = Glibc.shutdown(client.fd, Int32(SHUT_RDWR))
        XCTAssertEqual(cancelled.wait(timeout: .now() + 5), .success, "the producer saw Task.isCancelled after the client left")
    }
}
