import Foundation
@testable import HTTPServer
import XCTest

/// HTTPS through the same code path, with a self-signed certificate made by the openssl CLI at test time, and curl
/// as an independent client.
final class TLSTests: XCTestCase {
    func testServesHTTPSWithGeneratedCertificate() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        guard run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"]).status == 0 else {
            // .ci/run installs openssl and curl; a machine without them fails here rather than skipping the check.
            return XCTFail("the openssl command failed or is missing (apt-get install openssl)")
        }
        let server = try makeTestServer(limits: .testDefaults, tls: TLSConfiguration(certificatePath: cert, privateKeyPath: key)) { router in
            router.get("/hello") { _ in .text(.ok, "hello over tls") }
            router.post("/echo") { request in HTTPResponse(status: .ok, body: .bytes(request.body)) }
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            return XCTFail("curl is missing (apt-get install curl)")
        }
        let url = "https://127.0.0.1:\(server.port)/hello"
        // Two requests on one connection: keep-alive works over TLS too.
        let result = run("/usr/bin/curl", ["-sk", "--max-time", "5", url, url])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.output, "hello over tlshello over tls")
        let body = String(repeating: "0123456789", count: 10_000)  // under the 128 KiB limit on one argument
        let echo = run("/usr/bin/curl", ["-sk", "--max-time", "5", "--data-binary", body, "https://127.0.0.1:\(server.port)/echo"])
        XCTAssertEqual(echo.output, body)
        // Plain HTTP to the TLS port fails rather than being served in the clear.
        XCTAssertNotEqual(run("/usr/bin/curl", ["-s", "--max-time", "3", "http://127.0.0.1:\(server.port)/hello"]).output, "hello over tls")
    }

    func testBadKeyIsATypedError() {
        XCTAssertThrowsError(try TLSContext(TLSConfiguration(certificatePath: "/nonexistent.pem", privateKeyPath: "/nonexistent.key"))) {
            XCTAssertTrue(($0 as? TLSSetupError)?.description.hasPrefix("certificate") ?? false, "\($0)")
        }
    }

    private func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
