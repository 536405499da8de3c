import Foundation
import Glibc
@testable import HTTPServer
import Logging
import XCTest

final class ServerIntegrationTests: XCTestCase {
    func echoServer(limits: HTTPServerLimits = .testDefaults) throws -> HTTPServer {
        try makeTestServer(limits: limits) { router in
            router.get("/hello") { _ in .text(.ok, "hello") }
            router.post("/echo") { request in HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: .bytes(request.body)) }
            router.post("/small", maxBodySize: 8) { request in .text(.ok, "\(request.body.count)") }
            router.get("/v2/models/{name}/versions/{version}") { request in
                .text(.ok, "\(request.pathParameters["name"]!)@\(request.pathParameters["version"]!)")
            }
            router.get("/big") { _ in .json(.ok, "[" + String(repeating: "\"abcdefgh\",", count: 500) + "1]") }
            router.get("/stream") { _ in
                .stream(contentType: "text/event-stream") { writer in
                    for i in 0..<3 { try await writer.write("data: \(i)\n\n") }
                }
            }
            router.get("/fail") { _ in throw HTTPError(.unprocessableContent, "nope") }
            router.getImmediate("/now") { request in .text(.ok, "now \(request.query("q") ?? "-")") }
            router.getImmediate("/now-fail") { request in
                if request.query("kind") == "http" { throw HTTPError(.unprocessableContent, "refused at once") }
                struct Oops: Error {}
                throw Oops()
            }
            router.get("/events") { _ in
                .stream(contentType: "text/event-stream") { writer in
                    try await writer.write("data: first\n\n")
                    try await Task.sleep(for: .milliseconds(300))
                    try await writer.write("data: second\n\n")
                }
            }
        }
    }

    func testKeepAliveAndRouting() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n")
        let first = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(first.text, "hello")
        XCTAssertEqual(first.headers["X-Request-Id"], "abc-123")
        XCTAssertNotNil(first.headers["Date"])
        client.send("GET /v2/models/mnist%20cnn/versions/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        let second = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(second.text, "mnist cnn@3")
        XCTAssertFalse(second.headers["X-Request-Id"]!.isEmpty)
        client.send("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        let missing = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.text, #"{"error":"no route for /nowhere"}"#)
        client.send("DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let wrongMethod = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(wrongMethod.status, 405)
        XCTAssertEqual(wrongMethod.headers["Allow"], "GET, HEAD")
        client.send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try XCTUnwrap(client.readResponse(headRequest: true))
        XCTAssertEqual(head.headers["Content-Length"], "5")
        client.send("GET /fail HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let failed = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(failed.status, 422)
        XCTAssertEqual(failed.text, #"{"error":"nope"}"#)
        XCTAssertTrue(client.waitForClose())
    }

    /// Immediate handlers run on the connection's queue: same answers, errors and keep-alive as task handlers.
    func testImmediateHandlersAnswerLikeTaskHandlers() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("GET /now?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /now-fail?kind=http HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "GET /now-fail HTTP/1.1\r\nHost: x\r\n\r\nHEAD /now HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "now 1")
        let refused = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(refused.status, 422)
        XCTAssertEqual(refused.text, #"{"error":"refused at once"}"#)
        XCTAssertEqual(client.readResponse()?.status, 500)
        let head = try XCTUnwrap(client.readResponse(headRequest: true))
        XCTAssertEqual(head.headers["Content-Length"], "5")
        XCTAssertTrue(head.body.isEmpty)
    }

    func testPipelinedRequestsAnsweredInOrder() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\noneGET /hello HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nthr\r\n2\r\nee\r\n0\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "one")
        XCTAssertEqual(client.readResponse()?.text, "hello")
        XCTAssertEqual(client.readResponse()?.text, "three")
    }

    func testHTTP10ClosesByDefault() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("GET /hello HTTP/1.0\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.headers["Connection"], "close")
        XCTAssertTrue(client.waitForClose())
    }

    func testExpectContinue() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 100)
        client.send("body")
        XCTAssertEqual(client.readResponse()?.text, "body")
        // Too large: 413 at once, no 100.
        client.send("POST /small HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 400\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 413)
        XCTAssertTrue(client.waitForClose())
        // No route: the final 404 instead of 100 Continue, so the client never sends the body; then close.
        let other = try TestClient(port: server.port)
        other.send("POST /nowhere HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(other.readResponse()?.status, 404)
        XCTAssertTrue(other.waitForClose())
        let third = try TestClient(port: server.port)
        third.send("PUT /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        XCTAssertEqual(third.readResponse()?.status, 405)
        XCTAssertTrue(third.waitForClose())
    }

    func testLimitsAnswerTheirStatusesThenClose() throws {
        var limits = HTTPServerLimits.testDefaults
        limits.maxRequestLineLength = 100
        limits.maxHeaderSectionSize = 200
        limits.maxHeaderCount = 5
        let server = try echoServer(limits: limits)
        let cases: [(String, Int)] = [
            ("GET /\(String(repeating: "a", count: 200)) HTTP/1.1\r\nHost: x\r\n\r\n", 414),
            ("GET /hello HTTP/1.1\r\nHost: x\r\nBig: \(String(repeating: "b", count: 300))\r\n\r\n", 431),
            ("GET /hello HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", 431),
            ("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n", 413),
            ("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n", 413),
            ("GET /hello HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET /hello HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        ]
        for (request, status) in cases {
            let client = try TestClient(port: server.port)
            client.send(request)
            let response = client.readResponse()
            XCTAssertEqual(response?.status, status, request)
            XCTAssertEqual(response?.headers["Connection"], "close", request)
            XCTAssertTrue(client.waitForClose(), request)
        }
    }

    func testSlowHeadGets408AndIdleKeepAliveIsClosed() throws {
        let server = try echoServer()
        let slow = try TestClient(port: server.port)
        slow.send("GET /hello HTTP/1.1\r\nHo")
        let started = Date()
        XCTAssertEqual(slow.readResponse()?.status, 408)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertTrue(slow.waitForClose())

        let slowBody = try TestClient(port: server.port)
        slowBody.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        XCTAssertEqual(slowBody.readResponse()?.status, 408)

        let idle = try TestClient(port: server.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(idle.readResponse()?.status, 200)
        XCTAssertTrue(idle.waitForClose(), "idle keep-alive connection closed after its timeout")
    }

    func testGzipBothWays() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br;q=1, gzip\r\n\r\n")
        let compressed = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(compressed.headers["Content-Encoding"], "gzip")
        let plain = try Gzip.decompress(compressed.body, limit: 1 << 20)
        XCTAssertTrue(String(decoding: plain, as: UTF8.self).hasPrefix("[\"abcdefgh\""))
        XCTAssertLessThan(compressed.body.count, plain.count / 4)
        client.send("GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n\r\n")
        XCTAssertNil(client.readResponse()?.headers["Content-Encoding"])

        let payload = Array(repeating: UInt8(ascii: "z"), count: 5000)
        let gz = try XCTUnwrap(Gzip.compress(payload))
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: \(gz.count)\r\n\r\n")
        client.send(gz)
        XCTAssertEqual(client.readResponse()?.body, payload)

        // A small bomb: 5000 compressed-well bytes against an 8-byte limit, decoded size checked.
        let bomb = try XCTUnwrap(Gzip.compress(Array(repeating: 0, count: 100_000)))
        XCTAssertLessThan(bomb.count, 8 * 100)
        let bombClient = try TestClient(port: server.port)
        var limits = HTTPServerLimits.testDefaults
        limits.maxBodySize = 1000
        let strict = try echoServer(limits: limits)
        let strictClient = try TestClient(port: strict.port)
        strictClient.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: \(bomb.count)\r\n\r\n")
        strictClient.send(bomb)
        XCTAssertEqual(strictClient.readResponse()?.status, 413)
        bombClient.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc")
        XCTAssertEqual(bombClient.readResponse()?.status, 400)
    }

    /// A streamed response is gzipped piece by piece: each piece is sync-flushed (ends 00 00 FF FF), so the client can
    /// decode an event before the next one exists; the whole body is one valid gzip member.
    func testStreamedResponsesAreGzippedAndFlushedPerPiece() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("GET /events HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n")
        Thread.sleep(forTimeInterval: 0.15)
        var early = [UInt8](repeating: 0, count: 65536)
        let n = recv(client.fd, &early, early.count, Int32(MSG_DONTWAIT))
        let received: [UInt8] = Array(early.prefix(max(n, 0)))
        let text = String(decoding: received, as: UTF8.self)
        XCTAssertTrue(text.contains("Content-Encoding: gzip"), text)
        XCTAssertTrue(text.contains("Transfer-Encoding: chunked"), text)
        // Before the second event is written, the first chunk is complete and ends with a sync flush.
        let body = received[(received.firstRange(of: Array("\r\n\r\n".utf8))!.upperBound)...]
        let sizeEnd = body.firstRange(of: Array("\r\n".utf8))!
        let size = Int(String(decoding: body[..<sizeEnd.lowerBound], as: UTF8.self), radix: 16)!
        let chunk = Array(body[sizeEnd.upperBound...].prefix(size))
        XCTAssertEqual(chunk.count, size)
        XCTAssertEqual(Array(chunk.suffix(4)), [0, 0, 0xFF, 0xFF], "the first piece is flushed, not held in the compressor")
        // The rest of the stream, then the whole body: one gzip member holding both events.
        var all: [UInt8] = received
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = recv(client.fd, &buffer, buffer.count, 0)
            if got <= 0 { break }
            all += buffer.prefix(got)
        }
        var framed = all
        let response = try XCTUnwrap(TestResponse.parse(&framed, headRequest: false, closed: true))
        let plain = try Gzip.decompress(response.body, limit: 1 << 20)
        XCTAssertEqual(String(decoding: plain, as: UTF8.self), "data: first\n\ndata: second\n\n")
    }

    func testStreamingResponseIsChunked() throws {
        let server = try echoServer()
        let client = try TestClient(port: server.port)
        client.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.headers["Transfer-Encoding"], "chunked")
        XCTAssertEqual(response.text, "data: 0\n\ndata: 1\n\ndata: 2\n\n")
        client.send("GET /stream HTTP/1.0\r\n\r\n")
        let old = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(old.text, "data: 0\n\ndata: 1\n\ndata: 2\n\n")
    }

    func testConnectionCap() throws {
        var limits = HTTPServerLimits.testDefaults
        limits.maxConnections = 1
        limits.keepAliveIdleTimeout = .seconds(5)
        let server = try echoServer(limits: limits)
        let first = try TestClient(port: server.port)
        first.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(first.readResponse()?.status, 200)
        let second = try TestClient(port: server.port)
        XCTAssertEqual(second.readResponse()?.status, 503)
    }

    func testGracefulShutdownFinishesInFlightRequest() async throws {
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/slow") { _ in
                try await Task.sleep(for: .milliseconds(200))
                return .text(.ok, "done")
            }
            router.get("/hello") { _ in .text(.ok, "hello") }
        }
        let busy = try TestClient(port: server.port)
        let idle = try TestClient(port: server.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(idle.readResponse()?.status, 200)
        busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        try await Task.sleep(for: .milliseconds(50))
        let started = Date()
        await server.shutdown(gracePeriod: .seconds(2))
        XCTAssertLessThan(Date().timeIntervalSince(started), 1.5)
        let response = busy.readResponse()
        XCTAssertEqual(response?.text, "done")
        XCTAssertEqual(response?.headers["Connection"], "close")
        XCTAssertTrue(idle.waitForClose())
        XCTAssertEqual(server.openConnections, 0)
        XCTAssertThrowsError(try TestClient(port: server.port), "no longer accepting")
    }

    /// An empty host resolves to the IPv4 and the IPv6 wildcard: both are bound, on one port (port 0 picks it once),
    /// the IPv6 socket v6-only so the two don't collide.
    func testListensOnEveryAddressTheHostResolvesTo() throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var router = Router()
        router.get("/hello") { _ in .text(.ok, "hello") }
        let server = try HTTPServer(configuration: .init(host: "", port: 0), router: router, logger: logger)
        for address in ["127.0.0.1", "::1"] {
            let fd = socket(address.contains(":") ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var connected: Int32
            if address.contains(":") {
                var sin6 = sockaddr_in6()
                sin6.sin6_family = sa_family_t(AF_INET6)
                sin6.sin6_port = UInt16(server.port).bigEndian
                inet_pton(AF_INET6, address, &sin6.sin6_addr)
                connected = withUnsafePointer(to: &sin6) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            } else {
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_port = UInt16(server.port).bigEndian
                sin.sin_addr.s_addr = inet_addr(address)
                connected = withUnsafePointer(to: &sin) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            XCTAssertEqual(connected, 0, "connect to [\(address)]:\(server.port)")
            let request = Array("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            var tv = timeval(tv_sec: 3, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = recv(fd, &buffer, buffer.count, 0)
            XCTAssertTrue(String(decoding: buffer.prefix(max(n, 0)), as: UTF8.self).hasPrefix("HTTP/1.1 200"), address)
        }
    }
}
