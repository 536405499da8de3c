import Dispatch
import Glibc
@testable import HTTPServer
import XCTest

/// Pipelined requests answered at once (an immediate handler, a routing error) are served one after another in a
/// loop: a server that recursed into the next request from the end of the last one ran out of stack, and the whole
/// process died, on one client sending a few thousand requests in a single write.
final class PipeliningTests: XCTestCase {
    func testLongPipelineOfImmediateAnswersIsServedInOrder() throws {
        // The server writes its last answers long before this client has parsed them all: a short keep-alive timeout
        // would close the connection meanwhile, as it should, before the request sent after the pipeline.
        var limits = HTTPServerLimits.testDefaults
        limits.keepAliveIdleTimeout = .seconds(30)
        let server = try makeTestServer(limits: limits) { router in
            router.getImmediate("/now") { request in .text(.ok, request.query("n") ?? "") }
        }
        let client = try TestClient(port: server.port, timeout: 10)
        // Every third request has no route (404), which is answered without a handler, at once too.
        let count = 30_000
        var text = ""
        for index in 0..<count {
            text += index % 3 == 2 ? "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n" : "GET /now?n=\(index) HTTP/1.1\r\nHost: x\r\n\r\n"
        }
        // Sent from another thread: the answers fill our receive buffer while the requests are still going out.
        let bytes = Array(text.utf8), fd = client.fd
        let sent = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { break }
                offset += n
            }
            sent.signal()
        }
        for index in 0..<count {
            guard let response = client.readResponse() else { return XCTFail("no answer to request \(index)") }
            if index % 3 == 2 {
                XCTAssertEqual(response.status, 404, "request \(index)")
            } else if response.text != String(index) {
                return XCTFail("request \(index) answered \(response.status) \(response.text)")
            }
        }
        XCTAssertEqual(sent.wait(timeout: .now() + 10), .success)
        client.send("GET /now?n=last HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "last", "the connection serves on after the pipeline")
    }
}
