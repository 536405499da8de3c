import XCTest
@testable import HTTPServer

/// The status line and header section as bytes: every field in order, the connection's own fields replaced, and
/// numbers of every width written in full.
final class ResponseHeadTests: XCTestCase {
    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testHeadListsTheFieldsThenTheConnectionsOwn() {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "999")   // the framing below decides, not the handler
        headers.add(name: "X-Request-Id", value: "abc-1")
        let head = text(ResponseHead.encode(status: .notFound, headers: headers, framing: .contentLength(1_234_567),
                                           keepAlive: true, minorVersion: 1))
        let lines = head.components(separatedBy: "\r\n")
        XCTAssertEqual(lines[0], "HTTP/1.1 404 Not Found")
        XCTAssertEqual(lines[1], "Content-Type: application/json")
        XCTAssertEqual(lines[2], "X-Request-Id: abc-1")
        XCTAssertTrue(lines[3].hasPrefix("Date: ") && lines[3].hasSuffix(" GMT"), lines[3])
        XCTAssertEqual(lines[4], "Content-Length: 1234567")
        XCTAssertEqual(Array(lines.suffix(2)), ["", ""], "the section ends with an empty line")
        XCTAssertEqual(lines.count, 7)
    }

    func testCloseAndHTTP10KeepAliveAndChunkedFraming() {
        let closing = text(ResponseHead.encode(status: .ok, headers: HTTPHeaders(), framing: .chunked, keepAlive: false,
                                              minorVersion: 1))
        XCTAssertTrue(closing.contains("\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"), closing)
        let old = text(ResponseHead.encode(status: .ok, headers: HTTPHeaders(), framing: .contentLength(0), keepAlive: true,
                                          minorVersion: 0))
        XCTAssertTrue(old.hasSuffix("\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"), old)
    }

    func testDecimalsOfEveryWidth() {
        for value in [0, 7, 10, 99, 100, 65_535, 1 << 40, Int.max, -1, Int.min] {
            var out: [UInt8] = []
            ResponseHead.appendDecimal(value, to: &out)
            XCTAssertEqual(text(out), String(value))
        }
    }
}
