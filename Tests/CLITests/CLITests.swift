import Foundation
import XCTest

/// The `deepserve` executable as a user runs it: inspect, run and bench on a PyTorch-exported model.
final class CLITests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let model = root.appendingPathComponent("models/mnist-cnn/1/model.onnx").path

    /// The binary SwiftPM built next to this test bundle.
    private func binary() throws -> URL {
        var folder = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = folder.appendingPathComponent("deepserve")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        for bundle in Bundle.allBundles {
            let candidate = bundle.bundleURL.deletingLastPathComponent().appendingPathComponent("deepserve")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "the deepserve executable was not built next to the tests"])
    }

    private func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testCheckModelSaysWhatTheServerWouldDoOrWhyNot() throws {
        let good = try run(["check-model", Self.root.appendingPathComponent("models/mnist-cnn").path])
        XCTAssertEqual(good.status, 0, good.output)
        XCTAssertTrue(good.output.contains("images go into 'image' as NCHW, 28x28x1"), good.output)
        XCTAssertTrue(good.output.contains("activation softmax, 10 labels"), good.output)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-check-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = folder.appendingPathComponent("mnist-cnn")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("models/mnist-cnn"), to: model)
        let config = model.appendingPathComponent("config.json")
        try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: #""width": 28"#, with: #""width": 32"#)
            .write(to: config, atomically: true, encoding: .utf8)
        let bad = try run(["check-model", model.path])
        XCTAssertEqual(bad.status, 1, bad.output)
        XCTAssertTrue(bad.output.contains("config.json: preprocessing.width is 32, but model.onnx's input 'image' (NCHW) has width 28"), bad.output)
    }

    /// Symbolic dimensions by name, whole shapes and .npy inputs: a benchmark runs the shapes its reference runs.
    func testInputShapesCanBeGivenByDimensionNameShapeOrFile() throws {
        let lstm = Self.root.appendingPathComponent("models/shakespeare-lstm/1/model.onnx").path
        let traced = try run(["inspect", lstm, "--dim", "time=32"])
        XCTAssertEqual(traced.status, 0, traced.output)
        XCTAssertTrue(traced.output.contains("tokens [1, 32]"), traced.output)
        XCTAssertTrue(traced.output.contains("logits: [1, 32, 84]"), traced.output)
        let shaped = try run(["bench", Self.model, "--shape", "image=4x1x28x28", "--runs", "2", "--warmup", "0", "--json"])
        XCTAssertEqual(shaped.status, 0, shaped.output)
        XCTAssertTrue(shaped.output.contains(#""batch": 4"#), shaped.output)
        let file = Self.root.appendingPathComponent("Tests/Fixtures/models/mnist-cnn/input_image.npy").path
        let fromFile = try run(["bench", Self.model, "--input", "image=\(file)", "--runs", "2", "--warmup", "0", "--json"])
        XCTAssertEqual(fromFile.status, 0, fromFile.output)
        XCTAssertTrue(fromFile.output.contains(#""batch": 8"#), "the .npy holds 8 digits: \(fromFile.output)")
        let wrong = try run(["inspect", Self.model, "--shape", "pixels=1x2"])
        XCTAssertNotEqual(wrong.status, 0)
        XCTAssertTrue(wrong.output.contains("the model has no input 'pixels'; its inputs are image"), wrong.output)
        let huge = try run(["bench", Self.model, "--shape", "image=4294967296x4294967296x1x1"])
        XCTAssertNotEqual(huge.status, 0)
        XCTAssertTrue(huge.output.contains("has more than"), huge.output)
    }

    func testInspectDescribesTheModel() throws {
        let (status, output) = try run(["inspect", Self.model])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("image: float32 [batch, 1, 28, 28]"), output)
        XCTAssertTrue(output.contains("Conv+Relu ×2"), output)
        XCTAssertTrue(output.contains("unsupported operators: none"), output)
        XCTAssertTrue(output.contains("estimated FLOPs"), output)

        // Static inference from the declared inputs: tf2onnx's flatten (Shape → Gather → … → Reshape) keeps the input's
        // batch name, which differs from the one the export declared for the output.
        let keras = try run(["inspect", Self.root.appendingPathComponent("Tests/Fixtures/user-models/keras-digits/1/model.onnx").path])
        XCTAssertEqual(keras.status, 0, keras.output)
        XCTAssertTrue(keras.output.contains("output_0: float32 [unk__44, 10]"), keras.output)
        XCTAssertTrue(keras.output.contains("output shapes inferred from the declared inputs (no run):\n  output_0: float32 [unk__43, 10]"),
                      keras.output)
    }

    func testInspectRejectsANonModelClearly() throws {
        let (status, output) = try run(["inspect", Self.root.appendingPathComponent("README.md").path])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("not an ONNX model"), output)
    }

    func testRunWritesNumpyOutputsThatMatchOnnxRuntime() throws {
        let fixtures = Self.root.appendingPathComponent("Tests/Fixtures/models/mnist-cnn")
        let outputDir = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: outputDir) }
        let (status, output) = try run(["run", Self.model, "--input", "image=\(fixtures.appendingPathComponent("input_image.npy").path)",
                                        "--output-dir", outputDir.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("logits: float32 [8, 10]"), output)
        let written = try Data(contentsOf: outputDir.appendingPathComponent("logits.npy"))
        let reference = try Data(contentsOf: fixtures.appendingPathComponent("output_logits.npy"))
        XCTAssertEqual(written.count, reference.count)
        let values = { (data: Data) -> [Float] in data.suffix(80 * 4).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        for (a, b) in zip(values(written), values(reference)) { XCTAssertEqual(a, b, accuracy: 1e-3) }
    }

    func testRunRejectsAWrongInputName() throws {
        let fixtures = Self.root.appendingPathComponent("Tests/Fixtures/models/mnist-cnn")
        let (status, output) = try run(["run", Self.model, "--input", "pixels=\(fixtures.appendingPathComponent("input_image.npy").path)"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("unknown input 'pixels'"), output)
    }

    func testBadEnvironmentSettingIsRefusedByName() throws {
        let (status, output) = try run(["serve"], environment: ["DEEPSERVE_MAX_BODY_SIZE": "lots"])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains("DEEPSERVE_MAX_BODY_SIZE='lots' is not a valid value for --max-body-size"), output)
    }

    func testServeHelpIsGroupedAndKeepsSecretsOut() throws {
        let (status, output) = try run(["serve", "--help"], environment: ["DEEPSERVE_ADMIN_TOKEN": "s3cret-token"])
        XCTAssertEqual(status, 0)
        for group in ["LISTENING:", "MODELS AND INFERENCE:", "API:", "LIMITS AND TIMEOUTS:", "LOGGING:"] {
            XCTAssertTrue(output.contains(group), "\(group) missing:\n\(output)")
        }
        for flag in ["--poll-interval", "--cors-origins", "--log-level", "--no-demo-page", "--admin-token"] {
            XCTAssertTrue(output.contains(flag), flag)
        }
        XCTAssertFalse(output.contains("s3cret-token"), "a token from the environment must not be printed as a default")
    }

    func testBadServeValuesAreRefusedNamingTheFlag() throws {
        let cases: [([String], [String: String], String)] = [
            (["serve", "--cors-origins", "not an origin"], [:], "--cors-origins"),
            (["serve", "--poll-interval", "-1"], [:], "--poll-interval"),
            (["serve", "--header-timeout", "0"], [:], "--header-timeout"),
            (["serve"], ["DEEPSERVE_LOG_LEVEL": "loud"], "--log-level"),
            (["serve", "--model-repository", "/nonexistent"], [:], "--model-repository"),
        ]
        for (arguments, environment, flag) in cases {
            let (status, output) = try run(arguments, environment: environment)
            XCTAssertNotEqual(status, 0, "\(arguments) \(environment)")
            XCTAssertTrue(output.contains(flag), "\(arguments): \(output)")
        }
    }

    func testHealthcheckFailsWithoutAServer() throws {
        let (status, output) = try run(["healthcheck", "--url", "http://127.0.0.1:1/health/ready", "--timeout", "1"])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("no answer"), output)
    }

    func testBenchPrintsJSON() throws {
        let (status, output) = try run(["bench", Self.model, "--batch", "2", "--threads", "2", "--runs", "3", "--warmup", "1", "--json"])
        XCTAssertEqual(status, 0, output)
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        XCTAssertEqual(object?["batch"] as? Int, 2)
        XCTAssertGreaterThan(object?["median_ms"] as? Double ?? 0, 0)
        XCTAssertGreaterThan(object?["throughput_per_s"] as? Double ?? 0, 0)
    }
}
