@testable import HTTPServer
import XCTest

/// Route matching, including parameters with a literal suffix (`{name}:predict`, Google's custom-method style).
final class RouterTests: XCTestCase {
    private func router() -> Router {
        var router = Router()
        router.getImmediate("/v1/models/{name}") { _ in .text(.ok, "status") }
        router.post("/v1/models/{name}/generate") { _ in .text(.ok, "generate") }
        router.post("/v1/models/{name}:predict") { _ in .text(.ok, "predict") }
        router.post("/v1/models/{name}/versions/{version}:predict") { _ in .text(.ok, "predict") }
        return router
    }

    private func match(_ method: String, _ path: String) -> (String, [String: String])? {
        switch router().match(method: method, segments: path.split(separator: "/").map(String.init)) {
        case .found(let route, let parameters): return (route.method, parameters)
        case .methodNotAllowed(let allow): return ("405 " + allow.joined(separator: ","), [:])
        case .notFound: return nil
        }
    }

    func testASuffixedParameterCapturesWhatPrecedesItsSuffix() {
        XCTAssertEqual(match("POST", "/v1/models/mnist:predict")?.1, ["name": "mnist"])
        XCTAssertEqual(match("POST", "/v1/models/mnist/versions/2:predict")?.1, ["name": "mnist", "version": "2"])
        XCTAssertEqual(match("GET", "/v1/models/mnist")?.1, ["name": "mnist"])
        XCTAssertEqual(match("POST", "/v1/models/mnist/generate")?.1, ["name": "mnist"])
    }

    func testAVerbSegmentBelongsToItsRouteAlone() {
        // A plain parameter never captures a segment with ':', so Allow lists only the suffixed route's method.
        XCTAssertEqual(match("GET", "/v1/models/mnist:predict")?.0, "405 POST")
        XCTAssertEqual(match("POST", "/v1/models/mnist")?.0, "405 GET,HEAD")
        XCTAssertNil(match("POST", "/v1/models/mnist:classify"))
        XCTAssertNil(match("POST", "/v1/models/:predict"), "the captured part may not be empty")
    }
}
