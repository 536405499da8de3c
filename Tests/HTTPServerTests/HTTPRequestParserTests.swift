@testable import HTTPServer
import XCTest

final class HTTPRequestParserTests: XCTestCase {
    func testSimpleGet() {
        let outcome = parseAtEverySplit("GET /health/live?verbose=1&name=a%20b+c HTTP/1.1\r\nHost: x\r\nX-Thing:  spaced \t\r\n\r\n")
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.heads.count, 1)
        let head = outcome.heads[0]
        XCTAssertEqual(head.method, "GET")
        XCTAssertEqual(head.path, "/health/live")
        XCTAssertEqual(head.pathSegments, ["health", "live"])
        XCTAssertEqual(head.query("verbose"), "1")
        XCTAssertEqual(head.query("name"), "a b c")
        XCTAssertEqual(head.headers["x-thing"], "spaced")
        XCTAssertEqual(head.framing, .none)
        XCTAssertTrue(head.keepAlive)
        XCTAssertEqual(outcome.trailers, [HTTPHeaders()])
    }

    func testPercentDecodedPathKeepsEncodedSlashInSegment() {
        let head = parseAtEverySplit("GET /v2/models/a%2Fb/x%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n").heads[0]
        XCTAssertEqual(head.pathSegments, ["v2", "models", "a/b", "xé"])
        XCTAssertEqual(head.path, "/v2/models/a/b/xé")
    }

    /// The target and comma lists are split by bytes: empty pieces, "=" inside a value, and multi-byte text keep their
    /// meaning.
    func testTargetAndListsSplitByBytes() {
        let head = parseAtEverySplit("GET //a//%C3%A9/?k=v=w&&flag&q=%E2%82%AC HTTP/1.1\r\nHost: x\r\nConnection: \tkeep-alive , Close \t\r\n\r\n").heads[0]
        XCTAssertEqual(head.pathSegments, ["a", "é"])
        XCTAssertEqual(head.query("k"), "v=w")
        XCTAssertEqual(head.query("flag"), "")
        XCTAssertEqual(head.query("q"), "€")
        XCTAssertFalse(head.keepAlive, "close is among the Connection tokens")
        XCTAssertEqual(head.headers.tokens("Connection"), ["keep-alive", "close"])
        XCTAssertEqual(trimOWS(" \tvalé \t"), "valé")
        XCTAssertEqual(trimOWS(" \t "), "")
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2 ,2\r\n\r\nok").bodies, [Array("ok".utf8)])
    }

    func testAbsoluteFormTarget() {
        let head = parseAtEverySplit("GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n\r\n").heads[0]
        XCTAssertEqual(head.path, "/a")
        XCTAssertEqual(head.query("b"), "c")
    }

    func testContentLengthBodyAndPipelining() {
        let raw = "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        let outcome = parseAtEverySplit(raw)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.heads.map(\.path), ["/a", "/b"])
        XCTAssertEqual(outcome.bodies, [Array("hello".utf8), []])
        XCTAssertEqual(outcome.trailers.count, 2)
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let raw = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 42\r\n\r\n"
        let outcome = parseAtEverySplit(raw)
        XCTAssertNil(outcome.error)
        XCTAssertEqual(outcome.heads[0].framing, .chunked)
        XCTAssertEqual(outcome.bodies[0], Array("hello0123456789".utf8))
        XCTAssertEqual(outcome.trailers[0]["x-sum"], "42")
    }

    func testHTTP10KeepAliveRules() {
        XCTAssertFalse(parseAtEverySplit("GET / HTTP/1.0\r\n\r\n").heads[0].keepAlive)
        XCTAssertTrue(parseAtEverySplit("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").heads[0].keepAlive)
        XCTAssertFalse(parseAtEverySplit("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").heads[0].keepAlive)
    }

    func testExpectContinue() {
        let head = parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz").heads[0]
        XCTAssertTrue(head.expectsContinue)
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n").error, .unsupportedExpectation("magic"))
    }

    func testLeadingEmptyLinesAreIgnored() {
        XCTAssertEqual(parseAtEverySplit("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n").heads.count, 1)
    }

    func testSmugglingShapesAreRefused() {
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").error,
                       .malformed("both Content-Length and Transfer-Encoding"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").error,
                       .malformed("conflicting Content-Length"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\n").error,
                       .malformed("conflicting Content-Length"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\n").error, .malformed("bad Content-Length"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\n").error, .malformed("bad field name"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").error,
                       .malformed("chunked is not the final transfer coding"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").error,
                       .unsupportedTransferEncoding("gzip"))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").error,
                       .malformed("Transfer-Encoding in HTTP/1.0"))
        // Identical duplicates are allowed (RFC 9112 §6.3).
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").bodies, [Array("ok".utf8)])
    }

    func testMalformedInputHasExactErrors() {
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n").error, .malformed("obsolete line folding"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\nHost: x\r\n\r\n").error, .malformed("line ends in bare LF"))
        XCTAssertEqual(parseAtEverySplit("GET  / HTTP/1.1\r\n\r\n").error, .malformed("bad request line"))
        XCTAssertEqual(parseAtEverySplit("G(T / HTTP/1.1\r\n\r\n").error, .malformed("bad method"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/2.0\r\n\r\n").error, .unsupportedVersion("2.0"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTX/1.1\r\n\r\n").error, .malformed("bad HTTP version"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\n\r\n").error, .malformed("missing Host"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").error, .malformed("multiple Host fields"))
        XCTAssertEqual(parseAtEverySplit("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n").error, .malformed("bad percent-encoding in path"))
        XCTAssertEqual(parseAtEverySplit("GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n").error, .malformed("bad percent-encoding in path"))
        XCTAssertEqual(parseAtEverySplit("GET x HTTP/1.1\r\nHost: x\r\n\r\n").error, .malformed("bad request target"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n").error, .malformed("field line without colon"))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\nHost: x\r\nA: b\u{01}c\r\n\r\n").error, .malformed("bad field value"))
        let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        XCTAssertEqual(parseAtEverySplit(chunked + "zz\r\n").error, .malformed("bad chunk size"))
        XCTAssertEqual(parseAtEverySplit(chunked + "3\r\nabcX\r\n").error, .malformed("chunk data not followed by CRLF"))
        XCTAssertEqual(parseAtEverySplit(chunked + "1000000000000000\r\n").error, .malformed("chunk size too large"))
    }

    func testLimits() {
        var limits = HTTPServerLimits()
        limits.maxRequestLineLength = 32
        limits.maxHeaderSectionSize = 64
        limits.maxHeaderCount = 3
        limits.maxBodySize = 10
        XCTAssertEqual(parseAtEverySplit("GET /\(String(repeating: "a", count: 40)) HTTP/1.1\r\n", limits: limits).error,
                       .requestLineTooLong(limit: 32))
        // Exactly at the limit is fine.
        XCTAssertNil(parseAtEverySplit("GET /\(String(repeating: "a", count: 18)) HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits).error)
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\nHost: x\r\nA: \(String(repeating: "v", count: 70))\r\n\r\n", limits: limits).error,
                       .headerSectionTooLarge(limit: 64))
        XCTAssertEqual(parseAtEverySplit("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits).error,
                       .tooManyHeaders(limit: 3))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limits: limits).error,
                       .bodyTooLarge(limit: 10))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", limits: limits).error,
                       .bodyTooLarge(limit: 10))
        XCTAssertEqual(parseAtEverySplit("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", limits: limits).error,
                       .bodyTooLarge(limit: 10))
    }

    func testRouteBodyLimitAppliesBeforeBodyIsBuffered() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".utf8))
        guard case .head = try parser.next() else { return XCTFail("expected head") }
        parser.maxBodySize = 50
        XCTAssertThrowsError(try parser.next()) { XCTAssertEqual($0 as? HTTPParseError, .bodyTooLarge(limit: 50)) }
        XCTAssertThrowsError(try parser.next(), "a failed parser stays failed")
    }

    func testIdleAndBodyStates() throws {
        var parser = HTTPRequestParser()
        XCTAssertTrue(parser.isBetweenRequests)
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\na".utf8))
        XCTAssertFalse(parser.isBetweenRequests)
        _ = try parser.next()
        XCTAssertEqual(try parser.next(), .body([UInt8(ascii: "a")]))
        XCTAssertTrue(parser.isReadingBody)
        XCTAssertNil(try parser.next())
        parser.append([UInt8(ascii: "b")])
        XCTAssertEqual(try parser.next(), .body([UInt8(ascii: "b")]))
        XCTAssertEqual(try parser.next(), .end(trailers: HTTPHeaders()))
        XCTAssertTrue(parser.isBetweenRequests)
    }
}
