import Foundation
import XCTest
@testable import Serving

/// Models as users bring them (made by Scripts/make_user_models.py with onnxruntime's answers): an NHWC Keras-style
/// classifier whose graph ends in Softmax, a multi-label classifier ending in Sigmoid, and an NHWC autoencoder —
/// each served through the task endpoints and answered as onnxruntime answers, with nothing in their configs but
/// what the graph can't tell.
final class UserModelTests: XCTestCase {
    static let script = SchedulerTests.root.appendingPathComponent("Tests/ServingTests/Scripts/make_user_models.py")

    func testNHWCAndActivationEndedModelsAnswerAsOnnxruntimeDoes() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-user-models-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (status, output) = try LiveService.run(["python3", Self.script.path, folder.path])
        XCTAssertEqual(status, 0, output)
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let service = try LiveService(root: folder.appendingPathComponent("models"))
        let png = [UInt8](try Data(contentsOf: folder.appendingPathComponent("image.png")))
        func post(_ path: String, accept: String? = nil) throws -> [String: Any] {
            var headers = ["Content-Type": "image/png"]
            headers["Accept"] = accept
            let answer = try ServingEndToEndTests.request("POST", path, bodyBytes: png, headers: headers, port: service.port)
            XCTAssertEqual(answer.status, 200, "\(path): \(answer.body)")
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        }
        func scores(_ answer: [String: Any]) throws -> [Int: Double] {
            let predictions = try XCTUnwrap(answer["predictions"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: predictions.compactMap { entry in
                (entry["index"] as? Int).flatMap { index in (entry["probability"] as? Double).map { (index, $0) } }
            })
        }

        // NHWC input inferred from the graph; the graph's own Softmax is not applied twice.
        let keras = try post("/v1/models/keras-nhwc/classify?top_k=3")
        let kerasExpected = try XCTUnwrap(expected["keras-nhwc"] as? [Double])
        let kerasScores = try scores(keras)
        XCTAssertEqual(kerasScores.count, 3)
        for (index, probability) in kerasExpected.enumerated() {
            XCTAssertEqual(kerasScores[index] ?? -1, probability, accuracy: 1e-4, "class \(index)")
        }
        let top = try XCTUnwrap((keras["predictions"] as? [[String: Any]])?.first)
        XCTAssertEqual(top["label"] as? String, "dog", "labels.txt names the classes")

        // Sigmoid-ended: independent scores, not a distribution.
        let multi = try scores(try post("/v1/models/multilabel-sigmoid/classify?top_k=4"))
        for (index, score) in try XCTUnwrap(expected["multilabel-sigmoid"] as? [Double]).enumerated() {
            XCTAssertEqual(multi[index] ?? -1, score, accuracy: 1e-4, "label \(index)")
        }
        XCTAssertGreaterThan(multi.values.reduce(0, +), 1.2, "independent scores need not sum to 1")

        // NHWC in and out, through reconstruct.
        let reconstruction = try post("/v1/models/nhwc-autoencoder/reconstruct")
        let error = try XCTUnwrap(reconstruction["error"] as? Double)
        XCTAssertEqual(error, try XCTUnwrap(expected["nhwc-autoencoder"] as? Double), accuracy: 1e-6)
        await service.stop()
    }

    /// A real Keras CNN exported by tf2onnx without `--inputs-as-nchw` (training/export_keras_digits.py): NHWC input,
    /// softmax-ended, config silent on both. Each held-out digit gets onnxruntime's top class and probabilities (the
    /// model itself is 96 % accurate: it takes this 1 for an 8, as onnxruntime does).
    func testATf2onnxKerasExportServesAsOnnxruntimeAnswers() async throws {
        let folder = SchedulerTests.root.appendingPathComponent("Tests/Fixtures/user-models")
        let model = folder.appendingPathComponent("keras-digits")
        let reference = """
            import json, sys, numpy as np, onnxruntime as ort
            session = ort.InferenceSession(sys.argv[1] + "/1/model.onnx", providers=["CPUExecutionProvider"])
            pixels = np.load(sys.argv[1] + "/digits.npy").astype(np.float32)
            print(json.dumps(session.run(None, {"image": pixels})[0].tolist()))
            """
        let (status, output) = try LiveService.run(["python3", "-c", reference, model.path])
        XCTAssertEqual(status, 0, output)
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[Double]])
        let service = try LiveService(models: ["keras-digits"], root: folder)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: model.path).filter { $0.hasPrefix("digit-") }.sorted()
        XCTAssertEqual(pngs.count, expected.count)
        for (png, probabilities) in zip(pngs, expected) {
            let answer = try ServingEndToEndTests.request("POST", "/v1/models/keras-digits/classify?top_k=10",
                                                          bodyBytes: [UInt8](try Data(contentsOf: model.appendingPathComponent(png))),
                                                          headers: ["Content-Type": "image/png"], port: service.port)
            XCTAssertEqual(answer.status, 200, answer.body)
            let predictions = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["predictions"] as? [[String: Any]])
            let best = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? -1
            XCTAssertEqual(predictions.first?["label"] as? String, String(best), "\(png): onnxruntime's top class (labels.txt: 0…9)")
            for entry in predictions {
                let index = try XCTUnwrap(entry["index"] as? Int)
                XCTAssertEqual(try XCTUnwrap(entry["probability"] as? Double), probabilities[index], accuracy: 1e-5, "\(png) class \(index)")
            }
        }
        await service.stop()
    }

    /// A real Keras convolutional autoencoder exported by tf2onnx (training/export_keras_autoencoder.py), NHWC in and
    /// out with nothing about layout in its config: reconstruct's error equals onnxruntime's on the same pixels.
    func testATf2onnxKerasAutoencoderReconstructsAsOnnxruntimeDoes() async throws {
        let folder = SchedulerTests.root.appendingPathComponent("Tests/Fixtures/user-models")
        let model = folder.appendingPathComponent("keras-autoencoder")
        let reference = """
            import json, sys, numpy as np, onnxruntime as ort
            session = ort.InferenceSession(sys.argv[1] + "/1/model.onnx", providers=["CPUExecutionProvider"])
            x = np.load(sys.argv[1] + "/digits.npy").astype(np.float32) / 255
            y = session.run(None, {"image": x})[0]
            print(json.dumps([float(np.mean((y[i] - x[i]) ** 2)) for i in range(len(x))]))
            """
        let (status, output) = try LiveService.run(["python3", "-c", reference, model.path])
        XCTAssertEqual(status, 0, output)
        let expected = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [Double])
        let service = try LiveService(models: ["keras-autoencoder"], root: folder)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: model.path).filter { $0.hasPrefix("digit-") }.sorted()
        XCTAssertEqual(pngs.count, expected.count)
        for (png, error) in zip(pngs, expected) {
            let answer = try ServingEndToEndTests.request("POST", "/v1/models/keras-autoencoder/reconstruct",
                                                          bodyBytes: [UInt8](try Data(contentsOf: model.appendingPathComponent(png))),
                                                          headers: ["Content-Type": "image/png"], port: service.port)
            XCTAssertEqual(answer.status, 200, answer.body)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
            XCTAssertEqual(try XCTUnwrap(object["error"] as? Double), error, accuracy: 1e-6, png)
        }
        await service.stop()
    }
}
