import Foundation
import HTTPServer
import Logging
import XCTest
@testable import Serving

/// schemathesis drives the live service from openapi.yaml: generated requests, valid and invalid,
/// against every operation, checking for server errors, undocumented statuses and content types, and
/// responses that don't match their schemas. Requests that are valid by schema but refused for reasons
/// a schema can't express (classifying with a text model) are allowed: that check is excluded.
final class SchemathesisTests: XCTestCase {
    func testLiveServiceConformsToItsOpenAPIDocument() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let repository = ModelRepository(root: SchedulerTests.models)
        try repository.loadAll(logger: logger)
        let scheduler = InferenceScheduler()
        defer { scheduler.shutdown() }
        let spec = try String(contentsOf: OpenAPITests.spec, encoding: .utf8)
        let service = ServingService(repository: repository, scheduler: scheduler, metricsText: { "" },
                                     adminToken: "schemathesis", openAPISpec: spec, logger: logger)
        var router = Router()
        service.register(on: &router)
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), router: router, logger: logger)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["schemathesis", "run", OpenAPITests.spec.path, "--url", "http://127.0.0.1:\(server.port)",
                             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
                             "-H", "Authorization: Bearer schemathesis", "--max-examples", "12", "--workers", "1",
                             "--seed", "1", "--no-color"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        await server.shutdown()
        XCTAssertEqual(process.terminationStatus, 0, "schemathesis found failures:\n\(output.suffix(6000))")
        XCTAssertTrue(output.contains("Tested: 20"), "every documented operation should be exercised:\n\(output.suffix(1500))")
    }
}
