import Foundation
@testable import HTTPServer
import XCTest

/// A route's precheck vets the head before 100 Continue and before any of the body is read: a refusal is answered at
/// once, and the connection closes (the body may be on its way).
final class PrecheckTests: XCTestCase {
    private let handled = Locked(0)

    private func server() throws -> HTTPServer {
        try makeTestServer(limits: .testDefaults) { [handled] router in
            router.post("/guarded", precheck: { head throws(HTTPError) in
                guard head.headers["X-Key"] == "k" else { throw HTTPError(.unauthorized, "no key") }
            }) { request in
                handled.withLock { $0 += 1 }
                return .text(.ok, "got \(request.body.count)")
            }
            router.post("/open") { request in .text(.ok, "open \(request.body.count)") }
        }
    }

    func testARefusedHeadGetsItsAnswerWithoutContinueAndCloses() throws {
        let server = try server()
        let client = try TestClient(port: server.port)
        client.send("POST /guarded HTTP/1.1\r\nHost: x\r\nX-Key: wrong\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n")
        let response = try XCTUnwrap(client.readResponse(), "answered without the body being sent")
        XCTAssertEqual(response.status, 401, "the refusal, not 100 Continue")
        XCTAssertEqual(response.text, #"{"error":"no key"}"#)
        XCTAssertEqual(response.headers["Connection"], "close")
        XCTAssertTrue(client.waitForClose())
        XCTAssertEqual(handled.withLock { $0 }, 0)
    }

    func testWithoutExpectTheRefusalStillComesBeforeTheBody() throws {
        let server = try server()
        let client = try TestClient(port: server.port)
        client.send("POST /guarded HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 401)
        XCTAssertTrue(client.waitForClose())
        XCTAssertEqual(handled.withLock { $0 }, 0)
    }

    func testAnAcceptedHeadGetsContinueAndTheHandler() throws {
        let server = try server()
        let client = try TestClient(port: server.port)
        client.send("POST /guarded HTTP/1.1\r\nHost: x\r\nX-Key: k\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 100)
        client.send("body")
        XCTAssertEqual(client.readResponse()?.text, "got 4")
        // Keep-alive goes on after an accepted request, and routes without a precheck are untouched.
        client.send("POST /open HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        XCTAssertEqual(client.readResponse()?.text, "open 2")
        XCTAssertEqual(handled.withLock { $0 }, 1)
    }
}
