import Foundation
import Glibc
@testable import HTTPServer
import Logging
import XCTest

/// Log lines are buffered (a write per request costs a system call per request) but never held back long: tested
/// through a pipe.
final class LogOutputTests: XCTestCase {
    private var fds: [Int32] = [0, 0]

    override func setUp() {
        XCTAssertEqual(pipe(&fds), 0)
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        // Room for every line a test writes before it reads (the default 64 KiB would block the writer).
        XCTAssertGreaterThanOrEqual(fcntl(fds[1], 1031 /* F_SETPIPE_SZ */, Int32(1 << 20)), 1 << 20)
    }

    override func tearDown() {
        close(fds[0])
        close(fds[1])
    }

    private func available() -> String {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var text = ""
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            text += String(decoding: buffer.prefix(n), as: UTF8.self)
        }
        return text
    }

    func testInfoLinesWaitBrieflyWarningsGoAtOnce() throws {
        let output = LogOutput(fd: fds[1], flushDelay: .seconds(30))   // no timer flush during the test
        var logger = Logger(label: "deepserve.test") { LineLogHandler(label: $0, format: .text, output: output) }
        logger.logLevel = .info
        logger.info("GET /health/live 200", metadata: ["status": "200", "bytes": "15"])
        XCTAssertEqual(available(), "", "an info line waits for company")
        logger.warning("disk nearly full")
        let both = available()
        let lines = both.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "a warning writes itself and what waited before it, in order")
        XCTAssertTrue(lines[0].hasSuffix(" info deepserve.test: bytes=15 status=200 GET /health/live 200"), String(lines[0]))
        XCTAssertTrue(lines[1].hasSuffix(" warning deepserve.test: disk nearly full"), String(lines[1]))
        XCTAssertNotNil(lines[0].range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} "#, options: .regularExpression))
    }

    func testWaitingLinesGoOutWithinATenthOfASecond() throws {
        let output = LogOutput(fd: fds[1])
        let logger = Logger(label: "t") { LineLogHandler(label: $0, format: .json, output: output) }
        logger.info("one", metadata: ["request_id": "a\"b"])
        Thread.sleep(forTimeInterval: 0.4)
        let line = available()
        XCTAssertTrue(line.hasSuffix("\n"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        XCTAssertEqual(object["msg"], "one")
        XCTAssertEqual(object["request_id"], "a\"b")
        XCTAssertEqual(object["level"], "info")
    }

    func testABigBacklogIsWrittenWithoutWaitingAndFlushEmptiesIt() throws {
        let output = LogOutput(fd: fds[1], flushDelay: .seconds(30))
        let logger = Logger(label: "t") { LineLogHandler(label: $0, format: .text, output: output) }
        let line = String(repeating: "x", count: 1000)
        for _ in 0..<70 { logger.info("\(line)") }
        let early = available()
        XCTAssertGreaterThanOrEqual(early.utf8.count, 64 * 1024, "64 KiB gathered: written at once")
        logger.info("last")
        output.flush()
        let rest = available()
        XCTAssertEqual((early + rest).split(separator: "\n").count, 71, "every line exactly once")
        XCTAssertTrue(rest.hasSuffix("last\n"))
    }

    /// A client's text in a text line can't forge lines (CR LF), drive a terminal (ESC, C1) or pass for more fields.
    func testTextLinesEscapeControlCharactersAndQuoteFields() throws {
        let output = LogOutput(fd: fds[1], flushDelay: .seconds(30))
        let logger = Logger(label: "t") { LineLogHandler(label: $0, format: .text, output: output) }
        logger.info("GET /a\r\n2026-01-01T00:00:00+0000 info fake: forged \u{1b}[31mred\u{9b}2J", metadata: [
            "path": "/a b\"c=d", "plain": "x\\y", "empty": "",
        ])
        output.flush()
        let text = available()
        XCTAssertEqual(text.split(separator: "\n", omittingEmptySubsequences: false).count, 2, "one line and its newline: \(text)")
        XCTAssertFalse(text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x9B || $0 == "\r" }, text)
        XCTAssertTrue(text.contains(#" empty="" path="/a b\"c=d" plain=x\\y GET /a\r\n2026-"#), text)
        XCTAssertTrue(text.hasSuffix(#"forged \u{1b}[31mred\u{9b}2J"# + "\n"), text)
    }

    /// The same through the server's access log: a path of encoded CR LF and ESC stays on its one line.
    func testAccessLogLineOfAForgingPathIsOneLine() throws {
        let output = LogOutput(fd: fds[1], flushDelay: .seconds(30))
        var logger = Logger(label: "deepserve.http") { LineLogHandler(label: $0, format: .text, output: output) }
        logger.logLevel = .info
        var router = Router()
        router.get("/hello") { _ in .text(.ok, "hello") }
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, limits: .testDefaults), router: router, logger: logger)
        let client = try TestClient(port: server.port)
        client.send("GET /x%0d%0a2026-01-01T00:00:00+0000%20info%20deepserve.http:%20GET%20/admin%20200%1b%5b2J HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.status, 404)
        var text = ""
        for _ in 0..<100 where !text.contains("404") {
            output.flush()
            text += available()
            Thread.sleep(forTimeInterval: 0.02)
        }
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, text)
        XCTAssertFalse(text.unicodeScalars.contains { $0.value == 0x1B || $0 == "\r" }, text)
        XCTAssertTrue(text.contains(#"path="/x\r\n2026-01-01T00:00:00+0000 info deepserve.http: GET /admin 200\u{1b}[2J""#), text)
    }

    /// A JSON line holds the handler's own metadata and the event's, the event's value winning a shared key, and
    /// escapes what it quotes; an event without handler metadata is written from its own alone.
    func testJSONLinesMergeHandlerAndEventMetadata() throws {
        let output = LogOutput(fd: fds[1], flushDelay: .seconds(30))
        var logger = Logger(label: "t") { LineLogHandler(label: $0, format: .json, output: output) }
        logger.info("plain", metadata: ["b": "2"])
        logger[metadataKey: "a"] = "handler"
        logger[metadataKey: "shared"] = "handler"
        logger.info("quote \" and \n", metadata: ["shared": "event", "c": "x\u{01}y"])
        output.flush()
        let lines = available().split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2)
        let first = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: String])
        XCTAssertEqual(first["msg"], "plain")
        XCTAssertEqual(first["b"], "2")
        XCTAssertNil(first["a"])
        let second = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: String])
        XCTAssertEqual(second["msg"], "quote \" and \n")
        XCTAssertEqual(second["a"], "handler")
        XCTAssertEqual(second["shared"], "event")
        XCTAssertEqual(second["c"], "x\u{01}y")
        XCTAssertTrue(lines[1].contains(#""c":"x\u0001y""#), lines[1])
    }

    /// JSON log lines are built as bytes (`JSONString.append(_:to: inout [UInt8])`): every string, with every ASCII
    /// control, quote and backslash and multi-byte text, must come out as the String builder quotes it, and parse back.
    func testByteQuotingMatchesStringQuoting() throws {
        let ascii = String(decoding: (1...0x7F).map { UInt8($0) }, as: UTF8.self)
        for text in ["", "plain", "GET /health/live", ascii, "é \u{7F} 日本 😀 \"q\" \\ \u{1B}[2J", "\r\n\t\u{08}\u{0C}"] {
            var bytes: [UInt8] = []
            JSONString.append(text, to: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), JSONString.quote(text))
            let parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) as? String
            XCTAssertEqual(parsed, text)
        }
    }
}
