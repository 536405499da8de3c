import XCTest
@testable import HTTPServer

/// Header names compare case-insensitively for ASCII letters only (RFC 9110 §5.1), whether the strings are contiguous
/// UTF-8 (compared in place) or bridged/lazily stored (compared through their views).
final class HTTPHeadersTests: XCTestCase {
    func testNamesCompareIgnoringTheCaseOfLettersOnly() {
        XCTAssertTrue(HTTPHeaders.namesEqual("Content-Type", "content-type"))
        XCTAssertTrue(HTTPHeaders.namesEqual("X-DEADLINE-MS", "x-Deadline-Ms"))
        XCTAssertTrue(HTTPHeaders.namesEqual("", ""))
        XCTAssertFalse(HTTPHeaders.namesEqual("Content-Type", "Content-Typ"))
        XCTAssertFalse(HTTPHeaders.namesEqual("Content-Type", "Content-Tape"))
        // Bytes that differ only in bit 5 but are not letters: '@' and '`', '[' and '{', '-' and '\r'.
        XCTAssertFalse(HTTPHeaders.namesEqual("a@b", "a`b"))
        XCTAssertFalse(HTTPHeaders.namesEqual("x[", "x{"))
        XCTAssertFalse(HTTPHeaders.namesEqual("a-b", "a\rb"))
        // Non-ASCII is compared exactly: 'é' and 'É' are not folded.
        XCTAssertFalse(HTTPHeaders.namesEqual("é", "É"))
        XCTAssertTrue(HTTPHeaders.namesEqual("é", "é"))
    }

    func testLookupsFindFieldsWhateverTheCase() {
        var headers: HTTPHeaders = ["Content-Type": "image/png", "X-Thing": "1"]
        headers.add(name: "x-thing", value: "2")
        XCTAssertEqual(headers["CONTENT-TYPE"], "image/png")
        XCTAssertEqual(headers.values("X-THING"), ["1", "2"])
        XCTAssertEqual(headers.count(of: "x-thing"), 2)
        headers.replace(name: "X-thing", value: "3")
        XCTAssertEqual(headers.values("x-thing"), ["3"])
        XCTAssertNil(headers["X-Thin"])
    }
}
