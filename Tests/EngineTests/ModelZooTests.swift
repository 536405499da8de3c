import Foundation
import XCTest
@testable import Engine

/// What the shipped networks are for, checked through the Swift engine: the autoencoder tells
/// digits from non-digits at the threshold its config suggests, and the generator's samples are in
/// range and varied. (Parity with onnxruntime is in ShippedModelTests.)
final class ModelZooTests: XCTestCase {
    static let models = ShippedModelTests.modelsFolder
    static let fixtures = ShippedModelTests.fixturesFolder

    private func config(_ model: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.models.appendingPathComponent(model).appendingPathComponent("config.json"))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func perImageMSE(_ images: Tensor, _ reconstructions: Tensor) -> [Float] {
        let size = images.count / images.shape[0]
        let a = images.floatArray(), b = reconstructions.floatArray()
        return (0..<images.shape[0]).map { n in
            (0..<size).reduce(Float(0)) { sum, i in let d = a[n * size + i] - b[n * size + i]; return sum + d * d } / Float(size)
        }
    }

    /// 200 held-out MNIST digits (never trained on). The model scores 98.5 % on them (99.2 % on the
    /// full held-out 1,000); the floor of 97 % allows three more mistakes, while any real defect in
    /// the engine (a wrong kernel, a layout slip) drops accuracy far below it.
    func testDigitClassifierAccuracyOnHeldOutDigits() throws {
        let folder = Self.fixtures.appendingPathComponent("mnist-heldout")
        let images = try NumpyFile.read(contentsOf: folder.appendingPathComponent("images.npy"))
        let labels = try NumpyFile.read(contentsOf: folder.appendingPathComponent("labels.npy")).int64Array()
        let plan = try Plan(contentsOf: Self.models.appendingPathComponent("mnist-cnn/1/model.onnx"))
        let logits = try XCTUnwrap(try plan.run(["image": images])["logits"]).floatArray()
        let predictions = (0..<labels.count).map { n in (0..<10).max { logits[n * 10 + $0] < logits[n * 10 + $1] }! }
        let correct = zip(predictions, labels).filter { Int64($0) == $1 }.count
        let accuracy = Double(correct) / Double(labels.count)
        print("mnist-cnn: \(correct) of \(labels.count) held-out digits right (\(accuracy * 100) %)")
        XCTAssertEqual(labels.count, 200)
        XCTAssertGreaterThanOrEqual(accuracy, 0.97)
    }

    /// Cross-entropy of the character LSTM on a passage of a play it never saw (Twelfth Night).
    /// onnxruntime measures 1.3048 nats (1.88 bits) per character; the ceiling of 1.40 leaves room
    /// for rounding, while a broken LSTM sits near ln 84 ≈ 4.43. Also checks that feeding the text
    /// in two calls, carrying the state, matches feeding it in one.
    func testCharacterLSTMLossOnUnseenText() throws {
        let vocabulary = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.models.appendingPathComponent("shakespeare-lstm/vocab.json"))) as? [String: Any])["tokens"] as? [String]
        let index = Dictionary(try XCTUnwrap(vocabulary).enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("shakespeare-heldout.txt"), encoding: .utf8)
        let ids = text.map { Int64(index[String($0)] ?? index[" "]!) }
        let plan = try Plan(contentsOf: Self.models.appendingPathComponent("shakespeare-lstm/1/model.onnx"))
        let zeros = Tensor.zeros(.float, shape: [2, 1, 256])
        func run(_ tokens: ArraySlice<Int64>, _ h: Tensor, _ c: Tensor) throws -> [String: Tensor] {
            try plan.run(["tokens": Tensor(shape: [1, tokens.count], int64s: Array(tokens)), "h0": h, "c0": c])
        }
        let whole = try run(ids.dropLast(), zeros, zeros)
        let logits = try XCTUnwrap(whole["logits"]).floatArray(), classes = vocabulary!.count
        var loss = 0.0
        for t in 0..<(ids.count - 1) {
            let row = logits[(t * classes)..<((t + 1) * classes)].map(Double.init)
            let top = row.max()!
            let logSum = log(row.reduce(0) { $0 + exp($1 - top) }) + top
            loss += logSum - row[Int(ids[t + 1])]
        }
        loss /= Double(ids.count - 1)
        print("shakespeare-lstm: \(loss) nats (\(loss / log(2)) bits) per character on unseen text")
        XCTAssertLessThan(loss, 1.40)

        let half = (ids.count - 1) / 2
        let first = try run(ids[..<half], zeros, zeros)
        let second = try run(ids[half..<(ids.count - 1)], try XCTUnwrap(first["hn"]), try XCTUnwrap(first["cn"]))
        let stitched = try XCTUnwrap(first["logits"]).floatArray() + XCTUnwrap(second["logits"]).floatArray()
        assertClose(stitched, logits, tolerance: 1e-3, "state carried between calls")
    }

    func testAutoencoderSeparatesDigitsFromNonDigits() throws {
        let anomaly = try XCTUnwrap(try config("mnist-autoencoder")["anomaly"] as? [String: Any])
        let threshold = Float(try XCTUnwrap(anomaly["threshold"] as? Double))
        let plan = try Plan(contentsOf: Self.models.appendingPathComponent("mnist-autoencoder/1/model.onnx"))
        let folder = Self.fixtures.appendingPathComponent("mnist-autoencoder")
        for (file, isDigit) in [("input_image.npy", true), ("nondigits_image.npy", false)] {
            let images = try NumpyFile.read(contentsOf: folder.appendingPathComponent(file))
            let outputs = try plan.run(["image": images])
            let errors = perImageMSE(images, try XCTUnwrap(outputs["reconstruction"]))
            for (i, error) in errors.enumerated() {
                if isDigit {
                    XCTAssertLessThan(error, threshold, "digit \(i) of \(file) would be flagged as an anomaly")
                } else {
                    XCTAssertGreaterThan(error, threshold, "non-digit \(i) of \(file) would pass as a digit")
                }
            }
        }
    }

    func testGeneratorSamplesAreInRangeAndVaried() throws {
        let plan = try Plan(contentsOf: Self.models.appendingPathComponent("mnist-gan/1/model.onnx"))
        let latent = try XCTUnwrap(plan.inputs.first)
        let dimension = try XCTUnwrap(latent.shape?.last?.fixedValue)
        var random = TestRandom(seed: 2024)
        // Roughly normal latents: the sum of uniforms, scaled to unit variance.
        let values = (0..<(16 * dimension)).map { _ in (random.next() + random.next() + random.next()) }
        let images = try XCTUnwrap(try plan.run([latent.name: Tensor(shape: [16, dimension], floats: values)])[plan.outputs[0].name])
        XCTAssertEqual(images.shape, [16, 1, 28, 28])
        let pixels = images.floatArray()
        XCTAssertTrue(pixels.allSatisfy { $0 >= -1.000001 && $0 <= 1.000001 }, "tanh output must stay in [-1, 1]")
        // Digits are mostly background (≈ −1) with some ink (≈ +1).
        let ink = Float(pixels.filter { $0 > 0 }.count) / Float(pixels.count)
        XCTAssertTrue((0.03...0.5).contains(ink), "share of ink pixels \(ink)")
        // Different latents give different images.
        var minimumDistance = Float.infinity
        for a in 0..<16 {
            for b in (a + 1)..<16 {
                let d = (0..<784).reduce(Float(0)) { $0 + abs(pixels[a * 784 + $1] - pixels[b * 784 + $1]) } / 784
                minimumDistance = min(minimumDistance, d)
            }
        }
        XCTAssertGreaterThan(minimumDistance, 0.02, "two samples are nearly identical: the generator may have collapsed")
    }
}
