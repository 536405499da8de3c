import Foundation
import XCTest

/// schemathesis drives the live service from openapi.yaml: generated requests, valid and invalid,
/// against every operation, checking for server errors, undocumented statuses and content types, and
/// responses that don't match their schemas. Requests that are valid by schema but refused for reasons
/// a schema can't express (classifying with a text model) are allowed: that check is excluded.
final class SchemathesisTests: XCTestCase {
    func testLiveServiceConformsToItsOpenAPIDocument() async throws {
        let spec = try String(contentsOf: OpenAPITests.spec, encoding: .utf8)
        let service = try LiveService(adminToken: "schemathesis", openAPISpec: spec)
        let (status, output) = try LiveService.run([
            "schemathesis", "run", OpenAPITests.spec.path, "--url", "http://127.0.0.1:\(service.port)",
            "--mode", "all", "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "-H", "Authorization: Bearer schemathesis", "--max-examples", "12", "--workers", "1",
            "--seed", "1", "--no-color",
        ])
        await service.stop()
        XCTAssertEqual(status, 0, "schemathesis found failures:\n\(output.suffix(6000))")
        XCTAssertTrue(output.contains("Tested: 30"), "every documented operation should be exercised:\n\(output.suffix(1500))")
    }
}
