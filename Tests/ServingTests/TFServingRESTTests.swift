import Foundation
import XCTest
@testable import Serving

/// TensorFlow Serving's REST API, driven with the request and response examples of its documentation
/// (tensorflow_serving/g3doc/api_rest.md) against the docs' own half_plus_three model and its row/columnar example
/// (built as ONNX by Scripts/make_tf_serving_models.py), and a Keras model exported through tf2onnx answered the way
/// TF Serving answers it (`predictions` one list of 10 per instance), equal to onnxruntime.
final class TFServingRESTTests: XCTestCase {
    nonisolated(unsafe) static var service: LiveService!
    nonisolated(unsafe) static var root: URL!

    override class func setUp() {
        root = try! TemporaryRepository.make("tf-serving")
        let script = SchedulerTests.root.appendingPathComponent("Tests/ServingTests/Scripts/make_tf_serving_models.py")
        let (status, output) = try! LiveService.run(["python3", script.path, root.path])
        precondition(status == 0, output)
        let keras = SchedulerTests.root.appendingPathComponent("Tests/Fixtures/user-models/keras-digits")
        try! FileManager.default.copyItem(at: keras, to: root.appendingPathComponent("keras-digits"))
        service = try! LiveService(models: ["half_plus_three", "sensors", "keras-digits"], root: root)
    }

    override class func tearDown() {
        let done = DispatchSemaphore(value: 0)
        Task { await service.stop(); done.signal() }
        done.wait()
        try? FileManager.default.removeItem(at: root)
    }

    private func call(_ method: String, _ path: String, _ body: String = "") throws -> (status: Int, json: Any?) {
        let answer = try ServingEndToEndTests.request(method, path, bodyBytes: Array(body.utf8),
                                                      headers: ["Content-Type": "application/json"], port: Self.service.port)
        XCTAssertEqual(answer.headers["content-type"], "application/json", "\(path): \(answer.body.prefix(200))")
        return (answer.status, try? JSONSerialization.jsonObject(with: Data(answer.body.utf8), options: [.fragmentsAllowed]))
    }

    private func numbers(_ value: Any?) -> [Double]? { (value as? [NSNumber])?.map(\.doubleValue) }

    /// The docs' example session: status, then `{"instances": [1.0,2.0,5.0]}` → `{"predictions": [3.5, 4.0, 5.5]}`.
    func testTheDocumentationsHalfPlusThreeExample() throws {
        let status = try call("GET", "/v1/models/half_plus_three")
        XCTAssertEqual(status.status, 200)
        let versions = (status.json as? [String: Any])?["model_version_status"] as? [[String: Any]]
        XCTAssertEqual(versions?.count, 1)
        XCTAssertEqual(versions?.first?["version"] as? String, "123")
        XCTAssertEqual(versions?.first?["state"] as? String, "AVAILABLE")
        XCTAssertEqual(versions?.first?["status"] as? [String: String], ["error_code": "OK", "error_message": ""])
        XCTAssertEqual(try call("GET", "/v1/models/half_plus_three/versions/123").status, 200)
        XCTAssertEqual(try call("GET", "/v1/models/half_plus_three/versions/7").status, 404)

        for path in ["/v1/models/half_plus_three:predict", "/v1/models/half_plus_three/versions/123:predict"] {
            let row = try call("POST", path, #"{"instances": [1.0,2.0,5.0]}"#)
            XCTAssertEqual(row.status, 200, path)
            XCTAssertEqual(numbers((row.json as? [String: Any])?["predictions"]), [3.5, 4.0, 5.5], path)
            let columnar = try call("POST", path, #"{"inputs": [1.0,2.0,5.0]}"#)
            XCTAssertEqual(numbers((columnar.json as? [String: Any])?["outputs"]), [3.5, 4.0, 5.5], path)
        }
        // "An incorrect request URL or body returns an HTTP error status": the docs' 404 for an unknown model.
        let unknown = try call("POST", "/v1/models/half:predict", #"{"instances": [1.0,5.0]}"#)
        XCTAssertEqual(unknown.status, 404)
        XCTAssertNotNil((unknown.json as? [String: Any])?["error"] as? String)
    }

    func testMetadataIsASignatureDef() throws {
        let answer = try call("GET", "/v1/models/sensors/metadata")
        XCTAssertEqual(answer.status, 200)
        let object = answer.json as? [String: Any]
        XCTAssertEqual((object?["model_spec"] as? [String: Any])?["version"] as? String, "1")
        let signatures = ((object?["metadata"] as? [String: Any])?["signature_def"] as? [String: Any])?["signature_def"] as? [String: Any]
        let signature = signatures?["serving_default"] as? [String: Any]
        XCTAssertEqual(signature?["method_name"] as? String, "tensorflow/serving/predict")
        let sensor = (signature?["inputs"] as? [String: Any])?["sensor"] as? [String: Any]
        XCTAssertEqual(sensor?["dtype"] as? String, "DT_FLOAT")
        let dims = ((sensor?["tensor_shape"] as? [String: Any])?["dim"] as? [[String: Any]])?.compactMap { $0["size"] as? String }
        XCTAssertEqual(dims, ["-1", "2", "2"])
        XCTAssertEqual(try call("GET", "/v1/models/sensors/versions/1/metadata").status, 200)
    }

    /// The docs' named-input example (less its string input): row format answers a list of objects, columnar an object.
    func testRowAndColumnarFormatsWithNamedInputs() throws {
        let row = try call("POST", "/v1/models/sensors:predict", """
            {"instances": [{"signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3, 4]]},
                           {"signal": [3, 4, 1, 2, 5], "sensor": [[4, 5], [6, 8]]}]}
            """)
        XCTAssertEqual(row.status, 200, "\(String(describing: row.json))")
        let predictions = (row.json as? [String: Any])?["predictions"] as? [[String: Any]]
        XCTAssertEqual(predictions?.count, 2)
        XCTAssertEqual((predictions?[0]["signal_sum"] as? NSNumber)?.doubleValue, 15)
        XCTAssertEqual((predictions?[1]["sensor_twice"] as? [[NSNumber]])?.map { $0.map(\.doubleValue) }, [[8, 10], [12, 16]])

        let columnar = try call("POST", "/v1/models/sensors:predict", """
            {"inputs": {"signal": [[1, 2, 3, 4, 5], [3, 4, 1, 2, 5]], "sensor": [[[1, 2], [3, 4]], [[4, 5], [6, 8]]]}}
            """)
        XCTAssertEqual(columnar.status, 200)
        let outputs = (columnar.json as? [String: Any])?["outputs"] as? [String: Any]
        XCTAssertEqual(numbers(outputs?["signal_sum"]), [15, 15])
        XCTAssertEqual((outputs?["sensor_twice"] as? [[[NSNumber]]])?.count, 2)
    }

    func testMistakesGetTFServingsErrorAnswers() throws {
        let cases: [(String, String, Int, String)] = [
            ("/v1/models/sensors:predict", #"{"instances": [{"signal": [1, 2, 3, 4, 5], "sensor": [[1, 2], [3]]}]}"#, 400, "rectangular"),
            ("/v1/models/sensors:predict", #"{"instances": [{"signal": [1, 2, 3, 4, 5]}, {"sensor": [[1, 2], [3, 4]]}]}"#, 400, "other inputs"),
            ("/v1/models/sensors:predict", #"{"instances": [[1, 2, 3, 4, 5]]}"#, 400, "name them"),
            ("/v1/models/sensors:predict", #"{"inputs": {"tag": ["foo"]}}"#, 400, "not an input"),
            ("/v1/models/half_plus_three:predict", #"{"instances": [1], "inputs": [1]}"#, 400, "not both"),
            ("/v1/models/half_plus_three:predict", #"{"instances": ["foo"]}"#, 400, "neither a number"),
            ("/v1/models/half_plus_three:predict", #"{"signature_name": "classify", "instances": [1]}"#, 400, "serving_default"),
            ("/v1/models/half_plus_three:predict", #"{"instances": [{"b64": "AAAA"}]}"#, 400, "b64"),
            ("/v1/models/half_plus_three:classify", #"{"examples": []}"#, 404, "no route"),
            ("/v1/models/half_plus_three", #"{"instances": [1]}"#, 405, "not allowed"),
            ("/v1/models/half_plus_three/versions/x1:predict", #"{"instances": [1]}"#, 404, "version"),
        ]
        for (path, body, status, words) in cases {
            let answer = try call("POST", path, body)
            XCTAssertEqual(answer.status, status, "\(path) \(body)")
            let error = (answer.json as? [String: Any])?["error"] as? String ?? ""
            XCTAssertTrue(error.contains(words), "\(path) \(body): \(error)")
        }
        // The task routes under /v1/models/NAME/… are untouched by the TF Serving ones beside them, and a verb
        // segment belongs to its route alone.
        XCTAssertEqual(try call("GET", "/v1/models/half_plus_three/generate").status, 405)
        let answer = try ServingEndToEndTests.request("GET", "/v1/models/half_plus_three:predict", bodyBytes: [], headers: [:],
                                                      port: Self.service.port)
        XCTAssertEqual(answer.status, 405)
        XCTAssertEqual(answer.headers["allow"], "POST")
    }

    /// TF Serving answers a Keras classifier's `instances` with one list of 10 probabilities per instance; so do we,
    /// equal to onnxruntime, whether the pixels come nested, as b64 bytes, or columnar.
    func testATf2onnxKerasModelAnswersAsTFServingWould() throws {
        let script = """
            import base64, json, sys, numpy as np, onnxruntime as ort
            folder = sys.argv[1]
            session = ort.InferenceSession(folder + "/1/model.onnx", providers=["CPUExecutionProvider"])
            pixels = np.load(folder + "/digits.npy").astype(np.float32)
            print(json.dumps({"expected": session.run(None, {"image": pixels})[0].tolist(),
                              "nested": {"instances": pixels.tolist()},
                              "b64": {"instances": [{"b64": base64.b64encode(row.tobytes()).decode()} for row in pixels]},
                              "columnar": {"inputs": {"image": pixels.tolist()}}}))
            """
        let (status, output) = try LiveService.run(["python3", "-c", script, Self.root.appendingPathComponent("keras-digits").path])
        XCTAssertEqual(status, 0, output)
        let cases = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let expected = try XCTUnwrap(cases["expected"] as? [[Double]])
        for (label, key) in [("nested", "predictions"), ("b64", "predictions"), ("columnar", "outputs")] {
            let body = String(decoding: try JSONSerialization.data(withJSONObject: try XCTUnwrap(cases[label])), as: UTF8.self)
            let answer = try call("POST", "/v1/models/keras-digits:predict", body)
            XCTAssertEqual(answer.status, 200, "\(label): \(String(describing: answer.json))")
            let got = try XCTUnwrap((answer.json as? [String: Any])?[key] as? [[NSNumber]], label)
            XCTAssertEqual(got.count, expected.count, label)
            for (row, want) in zip(got, expected) {
                XCTAssertEqual(row.count, 10, label)
                for (value, reference) in zip(row, want) { XCTAssertEqual(value.doubleValue, reference, accuracy: 1e-5, label) }
            }
        }
    }
}
