@testable import HTTPServer
import XCTest

final class MultipartFormDataTests: XCTestCase {
    private let body = Array(("ignored preamble\r\n"
        + "--XyZ\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nplain value\r\n"
        + "--XyZ  \r\nContent-Disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".png\"\r\nContent-Type: image/png\r\n\r\n"
        + "\u{0}\u{1}\r\n--Xy not a boundary\r\n"
        + "--XyZ\r\n\r\n"
        + "\r\n--XyZ--\r\nepilogue").utf8)

    func testPartsNamesFilenamesAndBodies() throws {
        let form = try MultipartFormData(body: body, boundary: "XyZ")
        XCTAssertEqual(form.parts.count, 3)
        XCTAssertEqual(form.parts[0].name, "field")
        XCTAssertNil(form.parts[0].filename)
        XCTAssertEqual(String(decoding: form.parts[0].body, as: UTF8.self), "plain value")
        XCTAssertEqual(form.parts[1].name, "file")
        XCTAssertEqual(form.parts[1].filename, "a \"b\".png", "quoted-string escapes")
        XCTAssertEqual(form.parts[1].contentType, "image/png")
        XCTAssertEqual(form.parts[1].body, Array("\u{0}\u{1}\r\n--Xy not a boundary".utf8), "binary content, boundary look-alikes kept")
        XCTAssertEqual(form.parts[2].headers.count, 0)
        XCTAssertEqual(form.parts[2].body, [])
    }

    /// Found by the fuzzer: trimmed as Characters, a combining mark right after "name: " merged with the space and
    /// kept it. Header lines are split and trimmed as bytes.
    func testHeaderValuesAreTrimmedAsBytes() throws {
        let body = Array("--b\r\nX-Note: \u{05A7}accented\t \r\nName:value\r\n\r\nx\r\n--b--".utf8)
        let part = try XCTUnwrap(try MultipartFormData(body: body, boundary: "b").parts.first)
        XCTAssertEqual(part.headers["X-Note"], "\u{05A7}accented")
        XCTAssertEqual(part.headers["Name"], "value")
    }

    func testBoundaryFromContentType() {
        XCTAssertEqual(MultipartFormData.boundary(contentType: "multipart/form-data; boundary=abc"), "abc")
        XCTAssertEqual(MultipartFormData.boundary(contentType: "Multipart/Form-Data; charset=x; Boundary=\"a b;c\""), "a b;c")
        XCTAssertNil(MultipartFormData.boundary(contentType: "multipart/form-data"))
        XCTAssertNil(MultipartFormData.boundary(contentType: "multipart/mixed; boundary=abc"))
        XCTAssertNil(MultipartFormData.boundary(contentType: "multipart/form-data; boundary=\(String(repeating: "x", count: 71))"))
    }

    func testEveryTruncationIsAnErrorNotATrap() {
        // Cut anywhere before the close delimiter is complete: an error, never a crash or a partial success.
        let close = body.count - Array("--\r\nepilogue".utf8).count
        for length in 0..<close {
            XCTAssertThrowsError(try MultipartFormData(body: Array(body.prefix(length)), boundary: "XyZ"), "cut at \(length)")
        }
        XCTAssertThrowsError(try MultipartFormData(body: body, boundary: "other")) { error in
            XCTAssertEqual(error as? MultipartError, .missingBoundary)
        }
        XCTAssertThrowsError(try MultipartFormData(body: Array("--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--".utf8), boundary: "XyZ"))
        XCTAssertThrowsError(try MultipartFormData(body: Array("--XyZjunk\r\n\r\nx\r\n--XyZ--".utf8), boundary: "XyZ"))
    }

    func testPartCountIsCapped() {
        var many = ""
        for _ in 0...MultipartFormData.maxParts { many += "--b\r\n\r\n\r\n" }
        XCTAssertThrowsError(try MultipartFormData(body: Array((many + "--b--").utf8), boundary: "b"))
    }
}
