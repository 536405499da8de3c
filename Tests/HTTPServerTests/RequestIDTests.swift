import Foundation
@testable import HTTPServer
import XCTest

/// Every answer carries an X-Request-Id: the client's when it is sane, else a fresh one. Handlers see it too.
final class RequestIDTests: XCTestCase {
    private func server(limits: HTTPServerLimits = .testDefaults) throws -> HTTPServer {
        try makeTestServer(limits: limits) { router in
            router.get("/id") { request in .text(.ok, request.requestID) }
            router.getImmediate("/now") { request in .text(.ok, request.requestID) }
            router.post("/small", maxBodySize: 8) { _ in .text(.ok, "ok") }
            router.get("/stream") { _ in .stream(contentType: "text/plain") { writer in try await writer.write("piece") } }
            router.get("/fail") { _ in struct Oops: Error {}; throw Oops() }
            router.get("/own") { _ in HTTPResponse(status: .ok, headers: ["x-request-id": "handler's", "A": "1"], body: .bytes([])) }
            router.get("/own-stream") { _ in
                var response = HTTPResponse.stream(contentType: "text/plain") { writer in try await writer.write("piece") }
                response.headers.add(name: "X-REQUEST-ID", value: "handler's")
                return response
            }
        }
    }

    private func exchange(_ request: String, on server: HTTPServer) throws -> TestResponse {
        let client = try TestClient(port: server.port)
        client.send(request)
        return try XCTUnwrap(client.readResponse(), request)
    }

    /// Fresh ids: one per-process prefix of hex digits, then a hex counter that counts up by one.
    func testFreshIdsShareAPrefixAndCountUpInHex() throws {
        let ids = (0..<40).map { _ in RequestIDGenerator.next() }
        let parts = ids.map { $0.split(separator: "-") }
        XCTAssertTrue(parts.allSatisfy { $0.count == 2 && $0[0] == parts[0][0] }, "\(ids)")
        XCTAssertTrue(ids.allSatisfy { $0.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) || $0 == 0x2D } })
        let counters = try parts.map { try XCTUnwrap(UInt64($0[1], radix: 16), "\($0)") }
        // Other tests may take ids meanwhile: strictly increasing, and each a hex number with no leading zero.
        XCTAssertTrue(zip(counters, counters.dropFirst()).allSatisfy { $0 < $1 }, "\(counters)")
        XCTAssertTrue(parts.allSatisfy { $0[1].count == 1 || $0[1].first != "0" })
    }

    func testTheClientsIdIsEchoedOnEveryKindOfAnswer() throws {
        let server = try server()
        let requests = [
            ("GET /id HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\n\r\n", 200),
            ("GET /now HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\n\r\n", 200),
            ("GET /stream HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\n\r\n", 200),
            ("GET /fail HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\n\r\n", 500),
            ("GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\n\r\n", 404),
            ("DELETE /id HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\n\r\n", 405),
            ("POST /small HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-1\r\nContent-Length: 9\r\n\r\n123456789", 413),
        ]
        for (request, status) in requests {
            let response = try exchange(request, on: server)
            XCTAssertEqual(response.status, status, request)
            XCTAssertEqual(response.headers["X-Request-Id"], "client-1", request)
        }
        // Handlers see the id they answer with.
        XCTAssertEqual(try exchange(requests[0].0, on: server).text, "client-1")
        XCTAssertEqual(try exchange(requests[1].0, on: server).text, "client-1")
    }

    /// The id the server answers with wins over one a handler set itself, whatever its case: one field, not two.
    func testAHandlersOwnIdIsReplacedByTheExchangesId() throws {
        let server = try server()
        for path in ["/own", "/own-stream"] {
            let client = try TestClient(port: server.port)
            client.send("GET \(path) HTTP/1.1\r\nHost: x\r\nX-Request-Id: client-2\r\n\r\n")
            let response = try XCTUnwrap(client.readResponse(), path)
            XCTAssertEqual(response.status, 200, path)
            let ids = response.headers.fields.filter { HTTPHeaders.namesEqual($0.name, "X-Request-Id") }.map(\.value)
            XCTAssertEqual(ids, ["client-2"], path)
        }
    }

    func testAnInsaneIdIsReplacedAndFreshIdsDiffer() throws {
        let server = try server()
        var seen = Set<String>()
        for given in [String(repeating: "a", count: 129), "with space", "tab\there", ""] {
            let response = try exchange("GET /id HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(given)\r\n\r\n", on: server)
            XCTAssertEqual(response.status, 200, given)
            let id = try XCTUnwrap(response.headers["X-Request-Id"], given)
            XCTAssertNotEqual(id, given)
            XCTAssertEqual(response.text, id, "the handler sees the id the response carries")
            XCTAssertTrue((1...128).contains(id.utf8.count) && id.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, id)
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 4, "each request its own id")
        XCTAssertEqual(try exchange("GET /id HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(String(repeating: "b", count: 128))\r\n\r\n", on: server)
            .headers["X-Request-Id"], String(repeating: "b", count: 128), "128 characters are still fine")
    }

    func testErrorsBeforeAnyHeadAndRefusalsCarryAnId() throws {
        var limits = HTTPServerLimits.testDefaults
        limits.maxHeaderCount = 3
        limits.maxConnections = 2
        limits.keepAliveIdleTimeout = .seconds(5)
        let server = try server(limits: limits)
        for request in ["GARBAGE\r\n\r\n", "GET /id HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\n\r\n", "GET /id HTTP/1.1\r\nHo"] {
            let response = try exchange(request, on: server)  // 400, 431, 408
            XCTAssertTrue([400, 431, 408].contains(response.status), "\(response.status)")
            XCTAssertFalse(response.headers["X-Request-Id"]?.isEmpty ?? true, request)
        }
        // The error answers above close their connections; wait until the server has let go of them all.
        let deadline = Date().addingTimeInterval(5)
        while server.openConnections > 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(server.openConnections, 0)
        let held = try (0..<2).map { _ in try TestClient(port: server.port) }
        for client in held {
            client.send("GET /id HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(client.readResponse()?.status, 200)
        }
        let refused = try TestClient(port: server.port)
        let response = try XCTUnwrap(refused.readResponse())
        XCTAssertEqual(response.status, 503)
        XCTAssertFalse(response.headers["X-Request-Id"]?.isEmpty ?? true)
    }
}
