import Foundation
import HTTPServer
import XCTest
@testable import Serving

/// openapi.yaml is valid OpenAPI, and documents exactly the routes the service registers.
final class OpenAPITests: XCTestCase {
    static let spec = SchedulerTests.root.appendingPathComponent("openapi.yaml")

    func testSpecValidates() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys
            from openapi_spec_validator import validate
            from openapi_spec_validator.readers import read_from_filename
            validate(read_from_filename(sys.argv[1])[0])
            """, Self.spec.path]
        let pipe = Pipe()
        process.standardError = pipe
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, "openapi-spec-validator: \(message.suffix(2000))")
    }

    func testEveryRouteIsDocumentedAndNothingElse() throws {
        let service = ServingService(repository: ModelRepository(root: SchedulerTests.models), scheduler: InferenceScheduler(settings: {
            var settings = InferenceScheduler.Settings()
            settings.workers = 1
            return settings
        }()), metricsText: { "" }, adminToken: "token", openAPISpec: "")
        defer { service.scheduler.shutdown() }
        var router = Router()
        let registered = Set(service.register(on: &router))
        // Paths are the two-space-indented keys under `paths:`, methods the four-space ones below them.
        var documented = Set<String>()
        var path: String?
        for line in try String(contentsOf: Self.spec, encoding: .utf8).split(separator: "\n") {
            if line.hasPrefix("components:") { break }
            if line.hasPrefix("  /") { path = String(line.dropFirst(2).dropLast()) }
            if let path, line.hasPrefix("    "), !line.hasPrefix("     "), let method = line.split(separator: ":").first {
                documented.insert("\(method.trimmingCharacters(in: .whitespaces).uppercased()) \(path)")
            }
        }
        XCTAssertEqual(registered.subtracting(documented).sorted(), [], "routes missing from openapi.yaml")
        XCTAssertEqual(documented.subtracting(registered).sorted(), [], "openapi.yaml documents routes that don't exist")
    }
}
