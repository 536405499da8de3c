import Foundation
import Glibc
@testable import HTTPServer
import Logging
import XCTest

/// A blocking loopback client that sends raw bytes and reads raw responses, with a receive timeout so no test hangs.
final class TestClient {
    let fd: Int32

    init(port: Int, timeout: Double = 3) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }
    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    private var pending: [UInt8] = []
    /// True once the server closed (read returned 0 or failed other than by timeout).
    private(set) var sawClose = false

    private func fill() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { sawClose = sawClose || n == 0 || errno != EAGAIN; return false }
        pending += buffer[..<n]
        return true
    }

    /// Reads one response (Content-Length, chunked, or until close). Nil on timeout or close before a full response.
    func readResponse(headRequest: Bool = false) -> TestResponse? {
        while true {
            if let response = TestResponse.parse(&pending, headRequest: headRequest, closed: sawClose) { return response }
            if sawClose || !fill() {
                if sawClose, let response = TestResponse.parse(&pending, headRequest: headRequest, closed: true) { return response }
                return nil
            }
        }
    }

    /// Reads until the server closes, then parses what came as one response (cheap for big bodies).
    func readUntilClose() -> TestResponse? {
        while fill() {}
        return TestResponse.parse(&pending, headRequest: false, closed: true)
    }

    /// Shrinks our receive buffer (before the server sends much) so a non-reading client stalls the server sooner.
    func setReceiveBuffer(_ bytes: Int32) {
        var size = bytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Whether the server closes the connection within the receive timeout (no further bytes).
    func waitForClose() -> Bool {
        while fill() {}
        return sawClose
    }
}

struct TestResponse {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }

    static func parse(_ buffer: inout [UInt8], headRequest: Bool, closed: Bool) -> TestResponse? {
        let bytes = buffer
        guard let end = bytes.indices.dropLast(3).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }) else { return nil }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1])!
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            let colon = line.firstIndex(of: ":")!
            headers.add(name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var index = end + 4
        var body: [UInt8] = []
        if headRequest || status < 200 || status == 204 || status == 304 {
        } else if let length = headers["Content-Length"].flatMap(Int.init) {
            guard bytes.count - index >= length else { return nil }
            body = Array(bytes[index..<index + length])
            index += length
        } else if headers["Transfer-Encoding"] == "chunked" {
            while true {
                guard let lineEnd = bytes[index...].indices.dropLast().first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { return nil }
                let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self), radix: 16)!
                index = lineEnd + 2
                guard bytes.count - index >= size + 2 else { return nil }
                body += bytes[index..<index + size]
                index += size + 2
                if size == 0 { break }
            }
        } else {
            guard closed else { return nil }
            body = Array(bytes[index...])
            index = bytes.count
        }
        buffer.removeFirst(index)
        return TestResponse(status: status, headers: headers, body: body)
    }
}

/// Starts a server on 127.0.0.1:0 with short timeouts for tests.
func makeTestServer(limits: HTTPServerLimits? = nil, tls: TLSConfiguration? = nil, cors: CORSPolicy? = nil,
                    configure: (inout Router) -> Void) throws -> HTTPServer {
    var testLimits = HTTPServerLimits()
    testLimits.headerReadTimeout = .milliseconds(300)
    testLimits.bodyIdleTimeout = .milliseconds(300)
    testLimits.keepAliveIdleTimeout = .milliseconds(300)
    testLimits.writeIdleTimeout = .milliseconds(500)
    var router = Router()
    configure(&router)
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, limits: limits ?? testLimits, tls: tls, cors: cors,
                                                  shutdownGracePeriod: .seconds(2)),
                          router: router, logger: logger)
}

extension HTTPServerLimits {
    static var testDefaults: HTTPServerLimits {
        var limits = HTTPServerLimits()
        limits.headerReadTimeout = .milliseconds(300)
        limits.bodyIdleTimeout = .milliseconds(300)
        limits.keepAliveIdleTimeout = .milliseconds(300)
        limits.writeIdleTimeout = .milliseconds(500)
        return limits
    }
}
