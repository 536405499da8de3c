import Foundation
import Logging
import XCTest
@testable import Serving

/// Poll mode: models added to, changed in and removed from the repository folder are loaded, reloaded and unloaded;
/// a change that doesn't load leaves the serving version in place.
final class RepositoryPollerTests: XCTestCase {
    func testAddChangeBreakAndRemove() throws {
        let root = try TemporaryRepository.make("poll")
        defer { try? FileManager.default.removeItem(at: root) }
        let manager = FileManager.default
        try manager.copyItem(at: SchedulerTests.models.appendingPathComponent("mnist-cnn"), to: root.appendingPathComponent("mnist-cnn"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let repository = ModelRepository(root: root)
        let poller = RepositoryPoller(repository: repository, interval: .seconds(3600), logger: logger)
        try repository.loadAll(logger: logger)
        let first = try repository.model("mnist-cnn")

        poller.pollNow()
        XCTAssertTrue(try repository.model("mnist-cnn") === first, "nothing changed: nothing reloaded")

        // A new model folder appears.
        try manager.copyItem(at: SchedulerTests.models.appendingPathComponent("mnist-gan"), to: root.appendingPathComponent("mnist-gan"))
        poller.pollNow()
        XCTAssertEqual(repository.loaded.map(\.name), ["mnist-cnn", "mnist-gan"])
        XCTAssertTrue(repository.isReady)

        // A new version of a served model: reloaded, the highest version served.
        try manager.copyItem(at: root.appendingPathComponent("mnist-cnn/1"), to: root.appendingPathComponent("mnist-cnn/2"))
        poller.pollNow()
        XCTAssertEqual(try repository.model("mnist-cnn").version, 2)

        // A broken file: the load fails, version 2 keeps serving.
        let serving = try repository.model("mnist-cnn")
        try Data("not a model".utf8).write(to: root.appendingPathComponent("mnist-cnn/2/model.onnx"))
        poller.pollNow()
        XCTAssertTrue(try repository.model("mnist-cnn") === serving)
        XCTAssertNotNil(repository.loadFailures["mnist-cnn"])

        // Removed from the repository: unloaded, and no longer needed for readiness.
        try manager.removeItem(at: root.appendingPathComponent("mnist-gan"))
        poller.pollNow()
        XCTAssertThrowsError(try repository.model("mnist-gan"))
        XCTAssertEqual(repository.loaded.map(\.name), ["mnist-cnn"])
    }

    func testTheTimerPolls() throws {
        let root = try TemporaryRepository.make("poll")
        defer { try? FileManager.default.removeItem(at: root) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let repository = ModelRepository(root: root)
        let poller = RepositoryPoller(repository: repository, interval: .milliseconds(100), logger: logger)
        poller.start()
        defer { poller.stop() }
        try FileManager.default.copyItem(at: SchedulerTests.models.appendingPathComponent("mnist-gan"), to: root.appendingPathComponent("mnist-gan"))
        let deadline = Date().addingTimeInterval(20)
        while repository.loaded.isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertEqual(repository.loaded.map(\.name), ["mnist-gan"])
    }
}
