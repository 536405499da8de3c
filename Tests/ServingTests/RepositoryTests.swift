import Engine
import Foundation
import XCTest
@testable import Serving

final class RepositoryTests: XCTestCase {
    private func temporaryRepository(with models: [String]) throws -> URL {
        try TemporaryRepository.make("repo", with: models)
    }

    func testAFailedReloadKeepsTheServingVersion() throws {
        let root = try temporaryRepository(with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        let repository = ModelRepository(root: root)
        try repository.loadAll(logger: .init(label: "test"))
        let serving = try repository.model("mnist-cnn")
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

    func testReadinessTellsTheTruthAndRecovers() throws {
        let root = try temporaryRepository(with: ["mnist-cnn", "mnist-gan"])
        defer { try? FileManager.default.removeItem(at: root) }
        let ganFile = root.appendingPathComponent("mnist-gan/1/model.onnx")
        let good = try Data(contentsOf: ganFile)
        try Data().write(to: ganFile)
        let repository = ModelRepository(root: root)
        XCTAssertFalse(repository.isReady, "not ready before the first load pass")
        try repository.loadAll(logger: .init(label: "test"))
        XCTAssertFalse(repository.isReady, "strict (the default): a model that should serve and can't keeps the server unready")
        XCTAssertEqual(repository.unavailable, ["mnist-gan"])
        XCTAssertEqual(repository.loaded.map(\.name), ["mnist-cnn"])

        // Fixed: ready. Broken again while a version serves: still ready (the old version keeps serving).
        try good.write(to: ganFile)
        try repository.load("mnist-gan")
        XCTAssertTrue(repository.isReady)
        try Data().write(to: ganFile)
        XCTAssertThrowsError(try repository.load("mnist-gan"))
        XCTAssertTrue(repository.isReady, "a failed reload leaves the serving version, so the model is available")
        XCTAssertEqual(repository.unavailable, [])

        // Unloaded: no longer expected. Failed from scratch, then its folder removed (the poller unloads it): ready again.
        try repository.unload("mnist-gan")
        XCTAssertThrowsError(try repository.load("mnist-gan"))
        XCTAssertFalse(repository.isReady)
        let poller = RepositoryPoller(repository: repository, interval: .seconds(3600), logger: .init(label: "test"))
        try FileManager.default.removeItem(at: root.appendingPathComponent("mnist-gan"))
        poller.pollNow()
        XCTAssertTrue(repository.isReady, "removing the failed model's folder makes the server ready again")
        XCTAssertEqual(repository.unavailable, [])
    }

    func testLenientReadinessAndAnEmptyRepository() throws {
        let root = try temporaryRepository(with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        try Data().write(to: root.appendingPathComponent("mnist-cnn/1/model.onnx"))
        let lenient = ModelRepository(root: root, strictReadiness: false)
        try lenient.loadAll(logger: .init(label: "test"))
        XCTAssertTrue(lenient.isReady, "without strict readiness, a failed model is reported per model only")
        XCTAssertEqual(lenient.unavailable, ["mnist-cnn"])

        let empty = try temporaryRepository(with: [])
        defer { try? FileManager.default.removeItem(at: empty) }
        let repository = ModelRepository(root: empty)
        try repository.loadAll(logger: .init(label: "test"))
        XCTAssertTrue(repository.isReady, "an empty repository is ready")
    }

    /// A config naming a file outside the model's folder — by `..`, by an absolute path, or through a symlink — and a
    /// model folder that is itself a symlink out of the repository all fail to load, saying why (the config's own words,
    /// never where the repository lives).
    func testFilesOutsideTheModelFolderAreRefused() throws {
        let outside = try TemporaryRepository.make("outside")
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data("secret\nlines\n".utf8).write(to: outside.appendingPathComponent("secret.txt"))
        let root = try temporaryRepository(with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("mnist-cnn")
        let configFile = folder.appendingPathComponent("config.json")
        let config = try String(contentsOf: configFile, encoding: .utf8)
        let repository = ModelRepository(root: root)
        XCTAssertNoThrow(try repository.load("mnist-cnn"), "the model as shipped loads")

        let traversal = String(repeating: "../", count: 12) + outside.path.dropFirst() + "/secret.txt"
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("link.txt"),
                                                   withDestinationURL: outside.appendingPathComponent("secret.txt"))
        for labels in [traversal, outside.appendingPathComponent("secret.txt").path, "link.txt"] {
            try config.replacingOccurrences(of: #""labels_file": "labels.txt""#, with: #""labels_file": "\#(labels)""#)
                .write(to: configFile, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try repository.load("mnist-cnn"), labels) { error in
                guard case .loadFailed(_, let reason)? = error as? ServingError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.contains("outside the model's folder") || reason.contains("relative"), reason)
                XCTAssertFalse(reason.contains(root.path), "the reason does not say where the repository lives: \(reason)")
            }
            XCTAssertNotEqual(try repository.model("mnist-cnn").labels?.first, "secret", "the serving version keeps its labels")
        }
        try config.write(to: configFile, atomically: true, encoding: .utf8)

        // A model file that is a symlink to a copy outside the folder.
        let model = folder.appendingPathComponent("1/model.onnx")
        try FileManager.default.moveItem(at: model, to: outside.appendingPathComponent("model.onnx"))
        try FileManager.default.createSymbolicLink(at: model, withDestinationURL: outside.appendingPathComponent("model.onnx"))
        XCTAssertThrowsError(try repository.load("mnist-cnn")) { error in
            XCTAssertTrue("\(error)".contains("outside the model's folder"), "\(error)")
        }

        // A model folder that is a symlink out of the repository.
        try FileManager.default.removeItem(at: model)
        try FileManager.default.moveItem(at: outside.appendingPathComponent("model.onnx"), to: model)
        try FileManager.default.moveItem(at: folder, to: outside.appendingPathComponent("mnist-cnn"))
        try FileManager.default.createSymbolicLink(at: folder, withDestinationURL: outside.appendingPathComponent("mnist-cnn"))
        XCTAssertThrowsError(try repository.load("mnist-cnn")) { error in
            XCTAssertTrue("\(error)".contains("outside the model repository"), "\(error)")
        }
    }

    /// A version policy serves several versions at once, each reachable by its URL; a version folder's own
    /// config.json overrides the model's for that version only (here: a different label file).
    func testVersionPolicyAndPerVersionConfig() async throws {
        let root = try temporaryRepository(with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("mnist-cnn")
        for version in ["2", "3"] {
            try FileManager.default.copyItem(at: folder.appendingPathComponent("1"), to: folder.appendingPathComponent(version))
        }
        let shouting = try String(contentsOf: folder.appendingPathComponent("labels.txt"), encoding: .utf8)
            .split(separator: "\n").map { "digit \($0)" }.joined(separator: "\n")
        try shouting.write(to: folder.appendingPathComponent("2/labels-upper.txt"), atomically: true, encoding: .utf8)
        try #"{"labels_file": "2/labels-upper.txt"}"#.write(to: folder.appendingPathComponent("2/config.json"), atomically: true, encoding: .utf8)
        let configFile = folder.appendingPathComponent("config.json")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: configFile)) as? [String: Any])
        config["version_policy"] = ["latest": ["num_versions": 2]]
        try JSONSerialization.data(withJSONObject: config).write(to: configFile)

        let repository = ModelRepository(root: root)
        try repository.loadAll(logger: .init(label: "test"))
        XCTAssertEqual(repository.versions(of: "mnist-cnn"), [3, 2], "latest 2 of 1, 2, 3")
        XCTAssertEqual(try repository.model("mnist-cnn").version, 3, "no version asked: the highest")
        XCTAssertEqual(try repository.model("mnist-cnn", version: 2).labels?.first, shouting.split(separator: "\n").first.map(String.init))
        XCTAssertNotEqual(try repository.model("mnist-cnn", version: 3).labels?.first, try repository.model("mnist-cnn", version: 2).labels?.first)
        XCTAssertThrowsError(try repository.model("mnist-cnn", version: 1)) { error in
            XCTAssertEqual(error as? ServingError, .versionNotFound(model: "mnist-cnn", version: "1"))
        }

        config["version_policy"] = ["specific": ["versions": [1, 3]]]
        try JSONSerialization.data(withJSONObject: config).write(to: configFile)
        try repository.load("mnist-cnn")
        XCTAssertEqual(repository.versions(of: "mnist-cnn"), [3, 1])
        config["version_policy"] = ["specific": ["versions": [4]]]
        try JSONSerialization.data(withJSONObject: config).write(to: configFile)
        XCTAssertThrowsError(try repository.load("mnist-cnn")) { error in
            XCTAssertTrue("\(error)".contains("version(s) 4, which have no folder"), "\(error)")
        }
        XCTAssertEqual(repository.versions(of: "mnist-cnn"), [3, 1], "a failed load keeps the versions serving")
        config["version_policy"] = ["all": [:]]
        try JSONSerialization.data(withJSONObject: config).write(to: configFile)
        try repository.load("mnist-cnn")
        XCTAssertEqual(repository.versions(of: "mnist-cnn"), [3, 2, 1])

        // Over HTTP: each version by its URL, metadata lists them all.
        let service = try LiveService(root: root)
        let metadata = try ServingEndToEndTests.request("GET", "/v2/models/mnist-cnn", bodyBytes: [], headers: [:], port: service.port)
        XCTAssertTrue(metadata.body.contains(#""versions":["3","2","1"]"#), metadata.body)
        for (path, status) in [("/v2/models/mnist-cnn/versions/2/ready", 200), ("/v2/models/mnist-cnn/versions/4/ready", 404),
                               ("/v2/models/mnist-cnn/versions/02/ready", 404)] {
            let answer = try ServingEndToEndTests.request("GET", path, bodyBytes: [], headers: [:], port: service.port)
            XCTAssertEqual(answer.status, status, path)
        }
        await service.stop()
    }
}
