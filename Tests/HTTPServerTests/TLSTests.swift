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

    /// TLS 1.2 offers only forward-secret AEAD suites; TLS 1.0 and 1.1 stay refused. Checked with openssl s_client
    /// against an RSA certificate (so the ECDHE-RSA suites apply); each client offers exactly one suite, at a security
    /// level low enough that the client itself would allow the old ones.
    func testTLS12OffersOnlyForwardSecretAEADSuites() throws {
        let (directory, cert, key) = try makeCertificate(keyOptions: ["-newkey", "rsa:2048"])
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try makeTestServer(limits: .testDefaults, tls: TLSConfiguration(certificatePath: cert, privateKeyPath: key)) { router in
            router.get("/hello") { _ in .text(.ok, "hello over tls") }
        }
        func handshake(_ options: [String]) -> (status: Int32, output: String) {
            let request = #"printf 'GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'"#
            let client = (["timeout", "10", "openssl", "s_client", "-connect", "127.0.0.1:\(server.port)", "-ign_eof"] + options).joined(separator: " ")
            return run("/bin/sh", ["-c", "\(request) | \(client) 2>&1"])
        }
        let good = handshake(["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"])
        XCTAssertEqual(good.status, 0, good.output)
        XCTAssertTrue(good.output.contains("hello over tls"), good.output)
        XCTAssertTrue(handshake(["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"]).output.contains("hello over tls"))
        for refused in [["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"],            // static RSA key exchange
                        ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0"],  // CBC with SHA-1
                        ["-tls1_2", "-cipher", "AES128-GCM-SHA256:@SECLEVEL=0"],     // AEAD, but not forward secret
                        ["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
                        ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"]] {
            let result = handshake(refused)
            XCTAssertNotEqual(result.status, 0, "\(refused): \(result.output)")
            XCTAssertFalse(result.output.contains("hello over tls"), "\(refused)")
        }
        // TLS 1.3 keeps OpenSSL's suites.
        XCTAssertTrue(handshake(["-tls1_3"]).output.contains("hello over tls"))
    }

    /// A handshake sent a byte at a time is cut off when the handshake timeout runs out, though each byte would
    /// refresh the keep-alive deadline.
    func testASlowHandshakeIsCutOffByTheHandshakeTimeout() throws {
        let (directory, cert, key) = try makeCertificate(keyOptions: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        defer { try? FileManager.default.removeItem(at: directory) }
        var limits = HTTPServerLimits.testDefaults
        limits.keepAliveIdleTimeout = .seconds(30)
        limits.tlsHandshakeTimeout = .seconds(1)
        let server = try makeTestServer(limits: limits, tls: TLSConfiguration(certificatePath: cert, privateKeyPath: key)) { router in
            router.get("/hello") { _ in .text(.ok, "hello") }
        }
        let client = try TestClient(port: server.port)
        // A handshake record header announcing 512 bytes, then those bytes one at a time.
        client.send([0x16, 0x03, 0x01, 0x02, 0x00])
        let started = Date()
        var trickled = 0
        while server.openConnections == 0 && Date().timeIntervalSince(started) < 2 { Thread.sleep(forTimeInterval: 0.01) }
        while server.openConnections > 0 && Date().timeIntervalSince(started) < 8 {
            client.send([0x00])
            trickled += 1
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertEqual(server.openConnections, 0, "still open after \(trickled) bytes")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "a 1 s handshake timeout; the bound is generous")
    }

    private func makeCertificate(keyOptions: [String]) throws -> (directory: URL, cert: String, key: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let cert = directory.appendingPathComponent("cert.pem").path
        let key = directory.appendingPathComponent("key.pem").path
        let made = run("/usr/bin/openssl", ["req", "-x509"] + keyOptions + ["-nodes", "-keyout", key, "-out", cert, "-days", "1",
                                                                            "-subj", "/CN=localhost"])
        // A machine without openssl fails here rather than skipping the check.
        guard made.status == 0 else { throw TLSSetupError(description: "the openssl command failed or is missing (apt-get install openssl)") }
        return (directory, cert, key)
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
