import Foundation
import Glibc
@testable import HTTPServer
import XCTest

/// Out of file descriptors, accept fails while the connection stays queued: the listener pauses rather than retrying
/// in a loop that burns a core, and serves again once descriptors are free.
final class AcceptBackoffTests: XCTestCase {
    func testOutOfDescriptorsPausesAcceptingThenServesAgain() throws {
        var limits = HTTPServerLimits.testDefaults
        limits.keepAliveIdleTimeout = .seconds(10)  // the connection accepted late must wait for its request
        let server = try makeTestServer(limits: limits) { router in router.get("/hello") { _ in .text(.ok, "hello") } }
        // One request first, so the server has made every descriptor it needs besides the connection's (Dispatch's
        // timer descriptors, say); then let it close, so no descriptor is freed while they are short.
        let warm = try TestClient(port: server.port)
        warm.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(warm.readResponse()?.status, 200)
        for _ in 0..<500 where server.openConnections > 0 { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(server.openConnections, 0)
        // Made before descriptors run out; connected after.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resource, &saved), 0)
        // Below the lowest free descriptor number: no new descriptor can be made, in the whole process.
        let lowestFree = dup(0)
        XCTAssertGreaterThanOrEqual(lowestFree, 0)
        close(lowestFree)
        var lowered = saved
        lowered.rlim_cur = rlim_t(lowestFree)
        XCTAssertEqual(setrlimit(resource, &lowered), 0)
        var restored = false
        func restore() {
            guard !restored else { return }
            restored = true
            XCTAssertEqual(setrlimit(resource, &saved), 0)
        }
        defer { restore() }

        let before = server.listener.exhaustedAccepts.withLock { $0 }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(server.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        Thread.sleep(forTimeInterval: 1)
        let attempts = server.listener.exhaustedAccepts.withLock { $0 } - before
        restore()
        XCTAssertEqual(connected, 0)
        XCTAssertGreaterThanOrEqual(attempts, 1, "accept ran out of descriptors")
        // Pausing 100 ms between tries makes about 10 a second; a spinning loop makes hundreds of thousands.
        XCTAssertLessThan(attempts, 100)

        // Descriptors are back: the waiting connection is accepted and served.
        let request = Array("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200") && text.hasSuffix("hello"), text)
        let after = try TestClient(port: server.port)
        after.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(after.readResponse()?.status, 200)
    }

    func testRaisingTheOpenFileLimitReachesTheHardLimit() throws {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var saved = rlimit()
        XCTAssertEqual(getrlimit(resource, &saved), 0)
        defer { XCTAssertEqual(setrlimit(resource, &saved), 0) }
        var lowered = saved
        lowered.rlim_cur = min(saved.rlim_max, 256)
        XCTAssertEqual(setrlimit(resource, &lowered), 0)
        let raised = try XCTUnwrap(HTTPServer.raiseOpenFileLimit())
        var now = rlimit()
        XCTAssertEqual(getrlimit(resource, &now), 0)
        XCTAssertEqual(Int(clamping: now.rlim_cur), raised)
        XCTAssertEqual(now.rlim_cur, saved.rlim_max == rlim_t.max ? rlim_t(1 << 20) : saved.rlim_max)
    }
}
