import Foundation
import HTTPServer
import Logging
import XCTest
@testable import Serving

/// The model-repository control API on its own server and a copy of one model.
final class ControlAPITests: XCTestCase {
    func testLoadUnloadAndAFailedReload() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-control-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.copyItem(at: SchedulerTests.models.appendingPathComponent("mnist-cnn"), to: root.appendingPathComponent("mnist-cnn"))
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
        XCTAssertTrue(index.body.contains(#""name":"mnist-cnn","version":"1","state":"READY""#), index.body)

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

    func testTokenComparison() {
        XCTAssertTrue(ControlRoutes.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        XCTAssertFalse(ControlRoutes.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        XCTAssertFalse(ControlRoutes.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        XCTAssertFalse(ControlRoutes.constantTimeEqual([], Array("a".utf8)))
    }
}
