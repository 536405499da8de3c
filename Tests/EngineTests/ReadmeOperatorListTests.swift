import Foundation
import XCTest
@testable import Engine

/// The README's operator list and count are the registry's, so they can't drift: when an operator is added, this test
/// fails and prints the paragraph, which `scripts/update-readme-operators.py` writes into the README from this output.
final class ReadmeOperatorListTests: XCTestCase {
    func testTheReadmeListsExactlyTheRegisteredOperators() throws {
        // Line breaks don't matter: the paragraph is wrapped.
        let readme = try String(contentsOf: ONNXNodeTestSuite.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let names = OperatorRegistry.supportedOpTypes
        let marker = "Supported operators (default domain, the opset-dependent attribute forms included; float32 compute with int64/int32/bool where ONNX uses them): "
        let start = try XCTUnwrap(readme.range(of: marker), "README.md lost its operator paragraph")
        let end = try XCTUnwrap(readme[start.upperBound...].range(of: "."))
        let listed = readme[start.upperBound..<end.lowerBound].split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        XCTAssertEqual(listed, names, "README.md's operator list is out of date; it should read:\n\(marker)\(names.joined(separator: " ")).")
        XCTAssertTrue(readme.contains("| \(names.count) ONNX operators"), "README.md's table should say \(names.count) ONNX operators")
    }
}
