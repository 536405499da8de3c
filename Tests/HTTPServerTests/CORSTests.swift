import Foundation
@testable import HTTPServer
import XCTest

final class CORSTests: XCTestCase {
    private func server(origins: [String]?) throws -> HTTPServer {
        try makeTestServer(cors: origins.map { CORSPolicy(allowedOrigins: $0) }) { router in
            router.post("/v1/models/{name}/classify") { _ in .json(.ok, "{}") }
            router.get("/fail") { _ in throw HTTPError(.badRequest, "nope") }
        }
    }

    func testPreflightIsAnsweredForAnAllowedOriginAndRoute() throws {
        let server = try server(origins: ["https://app.example.com"])
        let client = try TestClient(port: server.port)
        client.send("OPTIONS /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\n"
                    + "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type, x-deadline-ms\r\n\r\n")
        let preflight = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(preflight.status, 204)
        XCTAssertEqual(preflight.headers["Access-Control-Allow-Origin"], "https://app.example.com")
        XCTAssertEqual(preflight.headers["Access-Control-Allow-Methods"], "POST")
        XCTAssertEqual(preflight.headers["Access-Control-Allow-Headers"], "content-type, x-deadline-ms")
        XCTAssertEqual(preflight.headers["Vary"], "Origin")
        XCTAssertNotNil(preflight.headers["Access-Control-Max-Age"])
        // The actual request, and an error answer, carry the origin too, so the page can read them.
        client.send("POST /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nContent-Length: 0\r\n\r\n")
        let actual = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(actual.headers["Access-Control-Allow-Origin"], "https://app.example.com")
        XCTAssertTrue(actual.headers["Access-Control-Expose-Headers"]?.contains("X-Request-Id") ?? false)
        client.send("GET /fail HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\n\r\n")
        let failed = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(failed.status, 400)
        XCTAssertEqual(failed.headers["Access-Control-Allow-Origin"], "https://app.example.com")
    }

    func testOtherOriginsMethodsAndPathsAreRefused() throws {
        let server = try server(origins: ["https://app.example.com"])
        let cases: [(String, Int)] = [
            ("OPTIONS /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n\r\n", 403),
            ("OPTIONS /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: DELETE\r\n\r\n", 405),
            ("OPTIONS /nowhere HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example.com\r\nAccess-Control-Request-Method: GET\r\n\r\n", 404),
        ]
        for (request, status) in cases {
            let client = try TestClient(port: server.port)
            client.send(request)
            let response = try XCTUnwrap(client.readResponse(), request)
            XCTAssertEqual(response.status, status, request)
        }
        let client = try TestClient(port: server.port)
        client.send("POST /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\nContent-Length: 0\r\n\r\n")
        XCTAssertNil(try XCTUnwrap(client.readResponse()).headers["Access-Control-Allow-Origin"], "no CORS headers for other origins")
    }

    func testWildcardAndOff() throws {
        let any = try server(origins: ["*"])
        let client = try TestClient(port: any.port)
        client.send("POST /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nContent-Length: 0\r\n\r\n")
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.headers["Access-Control-Allow-Origin"], "*")
        XCTAssertNil(response.headers["Vary"])

        let off = try server(origins: nil)
        let plain = try TestClient(port: off.port)
        plain.send("OPTIONS /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: POST\r\n\r\n")
        XCTAssertEqual(plain.readResponse()?.status, 405, "without a policy OPTIONS is routed like any method")
        plain.send("POST /v1/models/cnn/classify HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nContent-Length: 0\r\n\r\n")
    }
}
