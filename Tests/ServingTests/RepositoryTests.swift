import Engine
import Foundation
import XCTest
@testable import Serving

final class RepositoryTests: XCTestCase {
    private func temporaryRepository(with models: [String]) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-repo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for model in models {
            try FileManager.default.copyItem(at: SchedulerTests.models.appendingPathComponent(model), to: root.appendingPathComponent(model))
        }
        return root
    }

    func testAFailedReloadKeepsTheServingVersion() throws {
        let root = try temporaryRepository(with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        let repository = ModelRepository(root: root)
        let serving = try repository.load("mnist-cnn")
        XCTAssertTrue(repository.isReady)
        try Data("definitely not onnx".utf8).write(to: root.appendingPathComponent("mnist-cnn/1/model.onnx"))
        XCTAssertThrowsError(try repository.load("mnist-cnn")) { error in
            guard case .loadFailed(let model, let reason)? = error as? ServingError else { return XCTFail("\(error)") }
            XCTAssertEqual(model, "mnist-cnn")
            XCTAssertTrue(reason.contains("not an ONNX model"), reason)
            XCTAssertFalse(reason.contains(root.path), "no absolute path in \(reason)")
        }
        let still = try repository.model("mnist-cnn")
        XCTAssertTrue(still === serving, "the old version keeps serving")
        XCTAssertNotNil(repository.loadFailures["mnist-cnn"])
        let image = try SchedulerTests.digits(1)[0]
        XCTAssertEqual(try still.plan.run(["image": image])["logits"]?.shape, [1, 10])
    }

    func testHighestVersionIsServed() throws {
        let root = try temporaryRepository(with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.copyItem(at: root.appendingPathComponent("mnist-cnn/1"), to: root.appendingPathComponent("mnist-cnn/3"))
        try FileManager.default.createDirectory(at: root.appendingPathComponent("mnist-cnn/notes"), withIntermediateDirectories: true)
        XCTAssertEqual(try ModelRepository(root: root).load("mnist-cnn").version, 3)
    }

    func testNamesFromURLsCannotEscapeTheRepository() {
        for name in ["..", ".", "../etc", "a/b", "/etc/passwd", "", ".hidden", "x\0y", String(repeating: "a", count: 200)] {
            XCTAssertFalse(ModelRepository.isValidName(name), name)
        }
        for name in ["mnist-cnn", "model_2", "v1.0"] { XCTAssertTrue(ModelRepository.isValidName(name), name) }
    }

    func testReadinessWaitsForEveryModel() throws {
        let root = try temporaryRepository(with: ["mnist-cnn", "mnist-gan"])
        defer { try? FileManager.default.removeItem(at: root) }
        try Data().write(to: root.appendingPathComponent("mnist-gan/1/model.onnx"))
        let repository = ModelRepository(root: root)
        try repository.loadAll(logger: .init(label: "test"))
        XCTAssertFalse(repository.isReady, "a model that failed to load keeps the server unready")
        XCTAssertEqual(repository.loaded.map(\.name), ["mnist-cnn"])
    }
}
