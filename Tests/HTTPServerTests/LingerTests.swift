import Foundation
@testable import HTTPServer
import XCTest

/// After an error answer we drain what the client still sends for a moment, so it reads our answer rather than a reset;
/// that moment is fixed when the answer goes out, so a client trickling bytes can't keep the connection slot.
final class LingerTests: XCTestCase {
    func testATricklingClientAfterA413IsClosedWithinABound() throws {
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.post("/small", maxBodySize: 8) { request in .text(.ok, "\(request.body.count)") }
        }
        let client = try TestClient(port: server.port)
        client.send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 400\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 413)
        let answered = Date()
        // A byte every 0.1 s: well inside the 500 ms linger, so a linger refreshed per byte would never end.
        var trickled = 0
        while server.openConnections > 0 && Date().timeIntervalSince(answered) < 6 {
            client.send("x")
            trickled += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        let held = Date().timeIntervalSince(answered)
        XCTAssertEqual(server.openConnections, 0, "still open after \(trickled) trickled bytes")
        XCTAssertLessThan(held, 3, "the linger is half a second; the bound is generous for a busy machine")
    }
}
