import Foundation
import XCTest
@testable import Serving

/// TF Serving's version labels (`version_labels` in config.json): `/v1/models/NAME/labels/LABEL` answers status,
/// metadata and `:predict` for the version the label names; an unknown label is 404; a label must name a serving
/// version and be a plain name, else the model does not load.
final class TFServingLabelTests: XCTestCase {
    /// A copy of the digit CNN with versions 1 and 2 both serving and `labels` as its version labels.
    private func repository(labels: [String: Any]) throws -> URL {
        let root = try TemporaryRepository.make("labels", with: ["mnist-cnn"])
        let model = root.appendingPathComponent("mnist-cnn")
        try FileManager.default.copyItem(at: model.appendingPathComponent("1"), to: model.appendingPathComponent("2"))
        let file = model.appendingPathComponent("config.json")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        config["version_policy"] = ["all": [String: Any]()]
        config["version_labels"] = labels
        try JSONSerialization.data(withJSONObject: config).write(to: file)
        return root
    }

    private func call(_ method: String, _ path: String, _ body: String = "", port: Int) throws -> (status: Int, json: [String: Any]) {
        let answer = try ServingEndToEndTests.request(method, path, bodyBytes: Array(body.utf8), headers: [:], port: port)
        return (answer.status, (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any] ?? [:])
    }

    func testLabelsNameVersionsForStatusMetadataAndPredict() async throws {
        let root = try repository(labels: ["stable": 1, "canary": 2, "blue_green": 2])
        defer { try? FileManager.default.removeItem(at: root) }
        let service = try LiveService(models: ["mnist-cnn"], root: root)
        let port = service.port
        func version(_ path: String) throws -> String? {
            let answer = try call("GET", path, port: port)
            XCTAssertEqual(answer.status, 200, path)
            return (answer.json["model_version_status"] as? [[String: Any]])?.first?["version"] as? String
        }
        XCTAssertEqual(try version("/v1/models/mnist-cnn/labels/stable"), "1")
        XCTAssertEqual(try version("/v1/models/mnist-cnn/labels/canary"), "2")
        XCTAssertEqual(try version("/v1/models/mnist-cnn/labels/blue_green"), "2", "a label is read as written, not snake-case converted")
        let metadata = try call("GET", "/v1/models/mnist-cnn/labels/stable/metadata", port: port)
        XCTAssertEqual((metadata.json["model_spec"] as? [String: Any])?["version"] as? String, "1")
        let image = "[" + Array(repeating: "[" + Array(repeating: "0", count: 28).joined(separator: ",") + "]", count: 28).joined(separator: ",") + "]"
        let predicted = try call("POST", "/v1/models/mnist-cnn/labels/canary:predict", #"{"instances": [[\#(image)]]}"#, port: port)
        XCTAssertEqual(predicted.status, 200, "\(predicted.json)")
        XCTAssertEqual((predicted.json["predictions"] as? [[Double]])?.first?.count, 10)
        let unknown = try call("POST", "/v1/models/mnist-cnn/labels/nope:predict", #"{"instances": [[\#(image)]]}"#, port: port)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertTrue((unknown.json["error"] as? String ?? "").contains("label 'nope'"), "\(unknown.json)")
        XCTAssertEqual(try call("GET", "/v1/models/no-such-model/labels/stable", port: port).status, 404)
        await service.stop()
    }

    func testALabelMustNameAServingVersionAndBeAPlainName() throws {
        for (labels, words) in [(["beta": 3] as [String: Any], "version_labels.beta is 3, which is not a serving version"),
                                (["has space": 1], "a label is 1 to 64 letters"),
                                (["stable": 1.5], "version_labels.stable must be a version number"),
                                (["stable": true], "version_labels.stable must be a version number")] {
            let root = try repository(labels: labels)
            defer { try? FileManager.default.removeItem(at: root) }
            XCTAssertThrowsError(try ModelRepository(root: root).load("mnist-cnn"), "\(labels)") { error in
                XCTAssertTrue("\(error)".contains(words), "\(labels): \(error)")
            }
        }
    }
}
