import Foundation
import XCTest
@testable import Engine

/// The networks in `models/` (exported by PyTorch) run through the engine and agree with the
/// outputs onnxruntime gave for the same inputs when the training scripts saved the fixtures.
///
/// Fixture files in `Tests/Fixtures/models/<model>/`: `input_<name>.npy` and `output_<name>.npy` for
/// `1/model.onnx`; `<part>_input_<name>.npy` / `<part>_output_<name>.npy` for `1/<part>.onnx`, whose
/// inputs fall back to the unprefixed ones.
final class ShippedModelTests: XCTestCase {
    static let root = ONNXNodeTestSuite.packageRoot
    static let modelsFolder = root.appendingPathComponent("models")
    static let fixturesFolder = root.appendingPathComponent("Tests/Fixtures/models")

    private func modelFiles() throws -> [URL] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.modelsFolder.path).sorted()
        return names.flatMap { name -> [URL] in
            let version = Self.modelsFolder.appendingPathComponent(name).appendingPathComponent("1")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: version.path)) ?? []
            return files.filter { $0.hasSuffix(".onnx") }.sorted().map { version.appendingPathComponent($0) }
        }
    }

    func testEveryShippedModelLoadsAndRuns() throws {
        let files = try modelFiles()
        XCTAssertGreaterThanOrEqual(files.count, 4, "models/ should ship the model zoo")
        for file in files {
            let plan = try Plan(contentsOf: file)
            for size in [1, 3] {
                let shapes = try plan.inferShapes(dynamicSize: size)
                XCTAssertEqual(Set(shapes.keys), Set(plan.outputs.map(\.name)), file.path)
            }
        }
    }

    func testOutputsMatchOnnxRuntime() throws {
        var checked = 0
        for file in try modelFiles() {
            let model = file.deletingLastPathComponent().deletingLastPathComponent().lastPathComponent
            let part = file.deletingPathExtension().lastPathComponent
            let fixtures = Self.fixturesFolder.appendingPathComponent(model)
            let prefix = part == "model" ? "" : "\(part)_"
            let plan = try Plan(contentsOf: file)
            func fixture(_ name: String) -> URL? {
                let url = fixtures.appendingPathComponent(name)
                return FileManager.default.fileExists(atPath: url.path) ? url : nil
            }
            let expected = plan.outputs.compactMap { output in fixture("\(prefix)output_\(output.name).npy").map { (output.name, $0) } }
            guard !expected.isEmpty else { continue }
            var feeds: [String: Tensor] = [:]
            for input in plan.inputs {
                let url = try XCTUnwrap(fixture("\(prefix)input_\(input.name).npy") ?? fixture("input_\(input.name).npy"),
                                        "\(model)/\(part): no fixture for input \(input.name)")
                feeds[input.name] = try NumpyFile.read(contentsOf: url)
            }
            let outputs = try plan.run(feeds)
            for (name, url) in expected {
                let reference = try NumpyFile.read(contentsOf: url)
                let actual = try XCTUnwrap(outputs[name])
                XCTAssertEqual(actual.shape, reference.shape, "\(model)/\(part) \(name)")
                assertClose(actual.floatArray(), reference.floatArray(), tolerance: 1e-4, "\(model)/\(part) \(name)")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 4, "fixtures should cover every shipped model")
        print("shipped models: \(checked) outputs match onnxruntime")
    }
}
