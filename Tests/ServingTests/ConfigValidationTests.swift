import Foundation
import Imaging
import ONNXProto
import XCTest
@testable import Serving

/// A config.json that disagrees with its model fails the load with one plain sentence naming the file, the key and
/// both values — instead of loading READY and failing (or answering nonsense) on every request.
final class ConfigValidationTests: XCTestCase {
    private func repository(with model: String) throws -> (URL, ModelRepository) {
        let root = try TemporaryRepository.make("config", with: [model])
        return (root, ModelRepository(root: root))
    }

    /// Loads `model` with its config.json edited by `edit` (on the JSON object) and returns the load failure's reason.
    private func loadFailure(_ model: String, file: String = "config.json", _ edit: (inout [String: Any]) -> Void) throws -> String {
        let (root, repository) = try repository(with: model)
        defer { try? FileManager.default.removeItem(at: root) }
        let url = root.appendingPathComponent(model).appendingPathComponent("config.json")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        edit(&config)
        try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted]).write(to: url)
        do {
            _ = try repository.load(model)
        } catch ServingError.loadFailed(_, let reason) {
            return reason
        }
        XCTFail("\(model) loaded despite the edit")
        return ""
    }

    func testMismatchesFailTheLoadNamingFileKeyAndValues() throws {
        XCTAssertEqual(try loadFailure("mnist-cnn") { $0["task"] = "classification" },
                       #"config.json: task is "classification"; expected one of image-classification, text-generation, reconstruction, image-generation (or no task: KServe V2 only)"#)
        XCTAssertEqual(try loadFailure("mnist-cnn") { config in
            var preprocessing = config["preprocessing"] as? [String: Any] ?? [:]
            preprocessing["width"] = 32
            config["preprocessing"] = preprocessing
        }, "config.json: preprocessing.width is 32, but model.onnx's input 'image' (NCHW) has width 28")
        XCTAssertEqual(try loadFailure("mnist-cnn") { $0.removeValue(forKey: "outputs") },
                       "config.json: outputs is required but missing")
        XCTAssertEqual(try loadFailure("mnist-cnn") { $0["postprocessing"] = ["output": "probabilities"] },
                       #"config.json: postprocessing.output is "probabilities", but model.onnx has outputs ["logits"]"#)
        XCTAssertEqual(try loadFailure("mnist-cnn") { $0["postprocessing"] = ["activation": "softplus"] },
                       #"config.json: postprocessing.activation is "softplus"; expected softmax, sigmoid or none"#)
        XCTAssertEqual(try loadFailure("mnist-cnn") { $0["batching"] = ["max_batch_size": "eight"] },
                       "config.json: batching.max_batch_size must be a number")
        XCTAssertEqual(try loadFailure("shakespeare-lstm") { config in
            var recurrent = config["recurrent"] as? [String: Any] ?? [:]
            recurrent["logits_output"] = "scores"
            config["recurrent"] = recurrent
        }, #"config.json: recurrent.logits_output is "scores", but model.onnx's outputs are ["logits", "hn", "cn"]"#)
        let shape = try loadFailure("mnist-gan") { config in
            config["inputs"] = [["name": "latent", "dtype": "float32", "shape": [-1, 100]]]
        }
        XCTAssertEqual(shape, "config.json: inputs[0].shape[1] is 100, but model.onnx's 'latent' has 64 there")
    }

    /// A graph whose height and width are dynamic (OCR and detection exports) cannot run at 1 × 1: the trial run at
    /// load takes the sizes config.json gives, and when the config leaves them dynamic too, the failure says so.
    func testTheTrialRunAtLoadUsesTheSizesTheConfigGives() throws {
        let root = try TemporaryRepository.make("dynamic-size", with: ["mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("mnist-cnn")
        let modelURL = folder.appendingPathComponent("1/model.onnx")
        var model = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: modelURL))
        for axis in [2, 3] {
            var dim = Onnx_TensorShapeProto.Dimension()
            dim.dimParam = axis == 2 ? "height" : "width"
            model.graph.input[0].type.tensorType.shape.dim[axis] = dim
        }
        try model.serializedData().write(to: modelURL)
        let repository = ModelRepository(root: root)
        // config.json says [-1, 1, 28, 28]: the trial runs at 28 × 28 and the model loads.
        let loaded = try repository.load("mnist-cnn")
        XCTAssertEqual(loaded.plan.inputs[0].shape, [.symbolic("batch"), .fixed(1), .symbolic("height"), .symbolic("width")])
        XCTAssertEqual(loaded.plan.outputs[0].shape, [.symbolic("batch"), .fixed(10)])

        let configURL = folder.appendingPathComponent("config.json")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config["inputs"] = [["name": "image", "dtype": "float32", "shape": [-1, 1, -1, -1]]]
        config.removeValue(forKey: "preprocessing")
        config.removeValue(forKey: "task")
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        do {
            _ = try ModelRepository(root: root).load("mnist-cnn")
            XCTFail("a 1 × 1 image cannot pass the network's pooling")
        } catch ServingError.loadFailed(_, let reason) {
            XCTAssertTrue(reason.contains("is smaller than the kernel"), reason)
            XCTAssertTrue(reason.contains("the trial run at load gave size 1 to the dynamic dimensions 'image'[2], 'image'[3]"), reason)
        }
    }

    /// Batching splits each output along its batch axis: an output that static inference shows holding something else
    /// there is refused for batching at load (it would be split wrongly, or hand one request another's rows), and
    /// default step batching is left off for it rather than failing the load.
    func testBatchingNeedsEveryOutputToCarryTheBatch() throws {
        func withoutStateOutputAxes(_ config: inout [String: Any]) {
            config["outputs"] = (config["outputs"] as? [[String: Any]] ?? []).map { spec in
                var spec = spec
                spec.removeValue(forKey: "batch_axis")
                return spec
            }
        }
        let reason = try loadFailure("shakespeare-lstm") { config in
            withoutStateOutputAxes(&config)
            config["batching"] = ["max_batch_size": 4]
        }
        XCTAssertEqual(reason, "config.json: batching.max_batch_size is 4, but output 'hn' holds 2 on its batch axis 0, not the batch "
                       + "(shape [2, batch, 256] by static inference, the batch is on axis 1: declare it as the output's batch_axis)")

        let root = try TemporaryRepository.make("batch-flow", with: ["shakespeare-lstm", "mnist-cnn"])
        defer { try? FileManager.default.removeItem(at: root) }
        let url = root.appendingPathComponent("shakespeare-lstm/config.json")
        var config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        withoutStateOutputAxes(&config)
        config.removeValue(forKey: "batching")
        try JSONSerialization.data(withJSONObject: config).write(to: url)
        let repository = ModelRepository(root: root)
        XCTAssertFalse(try repository.load("shakespeare-lstm").interface.stepBatching)
        // As shipped, every output carries the batch: both kinds of batching stay on.
        let shipped = ModelRepository(root: SchedulerTests.models)
        XCTAssertTrue(try shipped.load("shakespeare-lstm").interface.stepBatching)
        XCTAssertNil(ModelInterface.outputMissingTheBatch(try shipped.load("mnist-cnn").plan, axes: BatchAxes()))
    }

    /// `batch_axis` must name a dynamic dimension inside the tensor's rank, be an integer, and be declared where step
    /// batching is asked for and the state's default axis can't batch.
    func testInvalidBatchAxisIsRejected() throws {
        func axis(_ value: Any, on name: String = "h0", key: String = "inputs") -> (inout [String: Any]) -> Void {
            { config in
                config[key] = (config[key] as? [[String: Any]] ?? []).map { spec in
                    var spec = spec
                    if spec["name"] as? String == name { spec["batch_axis"] = value }
                    return spec
                }
            }
        }
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis(3)),
                       "config.json: inputs[1].batch_axis is 3, but 'h0' has rank 3 (axes 0...2)")
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis(-1)),
                       "config.json: inputs[1].batch_axis is -1, but 'h0' has rank 3 (axes 0...2)")
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis(0)),
                       "config.json: inputs[1].batch_axis is 0, but inputs[1].shape[0] is 2; a batch axis must be dynamic (-1)")
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis(2, on: "cn", key: "outputs")),
                       "config.json: outputs[2].batch_axis is 2, but outputs[2].shape[2] is 256; a batch axis must be dynamic (-1)")
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis(1.5)), "config.json: inputs[1].batch_axis must be a whole number, is 1.5")
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis(1e300)), "config.json: inputs[1].batch_axis must be a whole number, is 1e+300")
        XCTAssertEqual(try loadFailure("shakespeare-lstm", axis("1")), "config.json: inputs[1].batch_axis must be a number")
        // A dynamic dimension in config.json that model.onnx fixes.
        XCTAssertEqual(try loadFailure("shakespeare-lstm") { config in
            axis(0)(&config)
            var inputs = config["inputs"] as? [[String: Any]] ?? []
            inputs[1]["shape"] = [-1, -1, 256]
            config["inputs"] = inputs
        }, "config.json: inputs[1].batch_axis is 0, but model.onnx fixes that dimension of 'h0' to 2")
        // Step batching asked for, with the state left on its default axis 0 (fixed to 2 in model.onnx).
        let unbatchable = try loadFailure("shakespeare-lstm") { config in
            config["inputs"] = (config["inputs"] as? [[String: Any]] ?? []).map { $0.filter { $0.key != "batch_axis" } }
            var generation = config["generation"] as? [String: Any] ?? [:]
            generation["step_batching"] = true
            config["generation"] = generation
        }
        XCTAssertTrue(unbatchable.hasPrefix("config.json: generation.step_batching is true, but 'h0' has no dynamic dimension at its batch axis 0"), unbatchable)
    }

    func testLabelCountMustEqualTheClassCount() throws {
        let (root, repository) = try repository(with: "mnist-cnn")
        defer { try? FileManager.default.removeItem(at: root) }
        try "zero\none\n".write(to: root.appendingPathComponent("mnist-cnn/labels.txt"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try repository.load("mnist-cnn")) { error in
            XCTAssertEqual("\(error)", "loading model 'mnist-cnn' failed: labels.txt has 2 labels, but model.onnx's 'logits' has 10 classes")
        }
    }

    func testMalformedJSONSaysWhere() throws {
        let (root, repository) = try repository(with: "mnist-cnn")
        defer { try? FileManager.default.removeItem(at: root) }
        try "{\n  \"name\": \"mnist-cnn\",\n  \"task\": \n}".write(to: root.appendingPathComponent("mnist-cnn/config.json"),
                                                                    atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try repository.load("mnist-cnn")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("config.json is not valid JSON"), text)
            XCTAssertTrue(text.contains("line 4"), text)
        }
    }

    /// A gray image's border is read in place; the answer is the one the generic path (edges cropped, then grayed) gives
    /// for the same picture in RGB, where gray v is luma(v, v, v) = v — including borders right at the threshold.
    func testLightBackgroundOfGrayImagesMatchesTheGenericPath() {
        var state: UInt64 = 42
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for case (let width, let height) in [(3, 3), (28, 28), (5, 17), (64, 9)] {
            for level in [0, 120, 127, 128, 140, 255] {
                let gray = (0..<(width * height)).map { _ in UInt8(clamping: level - 8 + Int(next() % 17)) }
                let image = Image(width: width, height: height, channels: 1, pixels: gray)
                let rgb = Image(width: width, height: height, channels: 3, pixels: gray.flatMap { [$0, $0, $0] })
                XCTAssertEqual(image.hasLightBackground, rgb.hasLightBackground, "\(width)x\(height) around \(level)")
            }
        }
        XCTAssertTrue(Image(width: 4, height: 4, channels: 1, pixels: Array(repeating: 200, count: 16)).hasLightBackground)
        XCTAssertFalse(Image(width: 4, height: 4, channels: 1, pixels: Array(repeating: 20, count: 16)).hasLightBackground)
    }

    /// `polarity` describes the training data and inverts nothing; only `"invert": "auto"` inverts a light image.
    func testOnlyInvertAutoInvertsLightBackgrounds() async throws {
        let (root, _) = try repository(with: "mnist-autoencoder")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.copyItem(at: root.appendingPathComponent("mnist-autoencoder"), to: root.appendingPathComponent("plain"))
        let plainConfig = root.appendingPathComponent("plain/config.json")
        var config = try String(contentsOf: plainConfig, encoding: .utf8)
        XCTAssertTrue(config.contains(#""invert": "auto""#))
        config = config.replacingOccurrences(of: #""invert": "auto""#, with: #""invert": false"#)
            .replacingOccurrences(of: #""name": "mnist-autoencoder""#, with: #""name": "plain""#)
        try config.write(to: plainConfig, atomically: true, encoding: .utf8)
        let service = try LiveService(root: root)
        func reconstructionError(_ model: String, _ png: [UInt8]) throws -> Double {
            let answer = try ServingEndToEndTests.request("POST", "/v1/models/\(model)/reconstruct", bodyBytes: png,
                                                          headers: ["Content-Type": "image/png"], port: service.port)
            XCTAssertEqual(answer.status, 200, answer.body)
            let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
            return try XCTUnwrap(object?["error"] as? Double)
        }
        let digit = try Data(contentsOf: ServingEndToEndTests.heldout.appendingPathComponent("000.png"))
        let dark = [UInt8](digit)   // white ink on black, as trained: nobody inverts it
        XCTAssertEqual(try reconstructionError("mnist-autoencoder", dark), try reconstructionError("plain", dark), accuracy: 1e-9)
        // The same digit as dark ink on light paper: "auto" inverts it back, false leaves it as sent.
        let image = try Imaging.Image.decode(digit)
        let light = [UInt8](Imaging.Image(width: image.width, height: image.height, channels: image.channels,
                                          pixels: image.pixels.map { 255 - $0 }).pngData())
        let inverted = try reconstructionError("mnist-autoencoder", light)
        XCTAssertEqual(inverted, try reconstructionError("mnist-autoencoder", dark), accuracy: 1e-6, "auto: as if sent white on black")
        XCTAssertGreaterThan(try reconstructionError("plain", light), inverted * 2, "false: the light image goes in as it is")
        await service.stop()
    }
}
