import Foundation
import Glibc
import HTTPServer
import Logging
import XCTest
@testable import Serving

/// The model-repository control API on its own server and a copy of one model.
final class ControlAPITests: XCTestCase {
    func testLoadUnloadAndAFailedReload() async throws {
        let root = try TemporaryRepository.make("control", with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let repository = ModelRepository(root: root)
        try repository.loadAll(logger: logger)
        let scheduler = InferenceScheduler()
        defer { scheduler.shutdown() }
        let service = ServingService(repository: repository, scheduler: scheduler, adminToken: "s3cret", logger: logger)
        var router = Router()
        service.register(on: &router)
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router, logger: logger)
        func call(_ path: String, token: String? = "s3cret") throws -> (status: Int, headers: [String: String], body: String) {
            try ServingEndToEndTests.request("POST", path, bodyBytes: [], headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:],
                                             port: server.port)
        }

        XCTAssertEqual(try call("/v2/repository/index", token: nil).status, 401)
        let wrong = try call("/v2/repository/index", token: "guess")
        XCTAssertEqual(wrong.status, 401)
        XCTAssertEqual(wrong.headers["www-authenticate"], "Bearer")
        let index = try call("/v2/repository/index")
        XCTAssertEqual(index.status, 200)
        let entries = try JSONSerialization.jsonObject(with: Data(index.body.utf8)) as? [[String: String]]
        XCTAssertTrue(entries?.contains(["name": "mnist-cnn", "version": "1", "state": "READY"]) == true, index.body)

        // A corrupt file: the load fails with its reason, the old version keeps serving.
        let file = root.appendingPathComponent("mnist-cnn/1/model.onnx")
        let good = try Data(contentsOf: file)
        try Data([0x08, 0x07, 0xFF]).write(to: file)
        let failed = try call("/v2/repository/models/mnist-cnn/load")
        XCTAssertEqual(failed.status, 500, "a model that fails to load is the server's failure")
        XCTAssertTrue(failed.body.contains("not an ONNX model"), failed.body)
        XCTAssertFalse(failed.body.contains(root.path), "no absolute path in \(failed.body)")
        XCTAssertNotNil(try? repository.model("mnist-cnn"))

        XCTAssertEqual(try call("/v2/repository/models/mnist-cnn/unload").status, 200)
        XCTAssertNil(try? repository.model("mnist-cnn"))
        XCTAssertEqual(try call("/v2/repository/models/mnist-cnn/unload").status, 404)

        try good.write(to: file)
        XCTAssertEqual(try call("/v2/repository/models/mnist-cnn/load").status, 200)
        XCTAssertNotNil(try? repository.model("mnist-cnn"))
        XCTAssertEqual(try call("/v2/repository/models/..%2Fetc/load").status, 400)
        await server.shutdown()
    }

    /// A wrong token is refused on the head: 401 at once, without 100 Continue, so the body is never sent.
    func testAWrongTokenGets401BeforeContinue() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let scheduler = InferenceScheduler()
        defer { scheduler.shutdown() }
        let root = try TemporaryRepository.make("control")
        defer { try? FileManager.default.removeItem(at: root) }
        let service = ServingService(repository: ModelRepository(root: root), scheduler: scheduler, adminToken: "s3cret", logger: logger)
        var router = Router()
        service.register(on: &router)
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router, logger: logger)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(server.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let head = "POST /v2/repository/models/mnist-cnn/load HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer guess\r\n"
            + "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n"
        _ = Array(head.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        // Read until the server closes (or 5 s pass with nothing more: then the body is awaited, the bug).
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received += buffer[..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 401 "), text)
        XCTAssertFalse(text.contains("100 Continue"), text)
        XCTAssertTrue(text.contains("WWW-Authenticate: Bearer"), text)
        await server.shutdown()
    }

    func testTokenComparison() {
        XCTAssertTrue(ControlRoutes.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(ControlRoutes.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(ControlRoutes.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(ControlRoutes.constantTimeEqual([], Array("a".utf8)))
    }
}
