import Engine
import Foundation
import HTTPServer
import Imaging

/// `POST /v1/models/{name}/classify[?top_k=N]`: an image (PNG, JPEG, PGM/PPM) as the raw body, as
/// `multipart/form-data` files, or JSON `{"image": "<base64>"}` / `{"images": ["<base64>", …]}`, through the model's preprocessing,
/// the network and a softmax → the top-k labels with their probabilities. Several images in one
/// request run as one batch and get one answer each.
struct ImageClassificationRoutes: Sendable {
    let core: InferenceCore
    /// Images larger than this are refused before decoding (decompression bombs); `maxDecodedBytes` is shared by
    /// all the images of one request (a `DecodeBudget` per request; see `ImageLimits` for why 256 MiB).
    static let limits = ImageLimits(maxWidth: 8192, maxHeight: 8192, maxPixels: 40_000_000, maxDecodedBytes: 256 << 20)

    func register(on router: inout MeteredRouter) {
        router.post("/v1/models/{name}/classify", maxBodySize: 32 << 20) { [self] request in
            try await respondAsync(request) { try await classify(request) }
        }
    }

    private func classify(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try core.model(for: request, task: "image-classification")
        let name = model.name
        let interface = model.interface
        guard let preprocessing = model.imagePreprocessing, let input = interface.imageInput, let output = interface.output else {
            throw ServingError.modelMisconfigured(model: name, reason: "config.json has no image preprocessing")
        }
        let topK = try ClientNumber.integer(text: request.query("top_k"), field: "top_k", in: 1...Int(Int32.max))
            ?? model.config.postprocessingTopK ?? 5
        let (uploads, single) = try ImagePayload.images(body: request.body, contentType: request.headers["Content-Type"])
        let images = uploads.map(\.bytes)
        let autoInvert = model.config.preprocessing?.invert == .auto
        var batch: [Float] = []
        let budget = DecodeBudget(Self.limits)
        for (index, data) in images.enumerated() {
            try Task.checkCancellation()   // the client went away: decode none of its other images
            do {
                var image = try Image.decode(data, limits: Self.limits, budget: budget,
                                             target: (preprocessing.width, preprocessing.height))
                // `"invert": "auto"`: a white-on-black model shown dark ink on light paper gets it inverted.
                if autoInvert, image.hasLightBackground { image = image.inverted() }
                let pixels = preprocessing.tensor(from: image)
                if batch.isEmpty { batch = pixels } else { batch += pixels }   // one image (the usual): no copy
            } catch {
                let which = uploads[index].filename.map { "image \(index) (\($0))" } ?? (images.count > 1 ? "image \(index)" : nil)
                throw ImagePayload.httpError(error, which: which)
            }
        }
        let tensor = interface.layout.tensor(batch, count: images.count, channels: preprocessing.channels,
                                             height: preprocessing.height, width: preprocessing.width)
        let result = try await core.run(model, inputs: [input: tensor], outputs: [output], deadline: try request.deadline())
        guard let logits = result.outputs.first?.tensor, logits.rank == 2, logits.shape[0] == images.count else {
            throw ServingError.modelMisconfigured(model: name, reason: "output '\(output)' is not [batch, classes]")
        }
        let classes = logits.shape[1], values = logits.floatArray()
        let results = (0..<images.count).map { row in
            predictions(values[(row * classes)..<((row + 1) * classes)], activation: interface.activation,
                        labels: model.labels, topK: topK)
        }
        if single { return .json(encoding: ClassifyAnswer(model: model.name, version: model.version, predictions: results[0])) }
        let entries = zip(uploads, results).map { ClassifyAnswer.Result(filename: $0.filename, predictions: $1) }
        return .json(encoding: ClassifyAnswer(model: model.name, version: model.version, results: entries))
    }

    /// Scores by the model's activation (softmax: one distribution; sigmoid: independent per class, for
    /// multi-label models; none: the output as it is), then the k highest.
    private func predictions(_ output: ArraySlice<Float>, activation: ModelInterface.Activation, labels: [String]?,
                             topK: Int) -> [ClassifyAnswer.Prediction] {
        var scores = output.map(Double.init)
        switch activation {
        case .softmax:
            let top = output.max() ?? 0
            var total = 0.0
            for (i, value) in zip(scores.indices, output) {
                scores[i] = Foundation.exp(Double(value - top))
                total += scores[i]
            }
            for i in scores.indices { scores[i] /= total }
        case .sigmoid:
            for i in scores.indices { scores[i] = 1 / (1 + Foundation.exp(-scores[i])) }
        case .none:
            break
        }
        return Self.highest(topK, of: scores).map { index in
            ClassifyAnswer.Prediction(label: labels.flatMap { index < $0.count ? $0[index] : nil } ?? String(index), index: index,
                                      probability: scores[index])
        }
    }

    /// The indices of the `k` highest scores, highest first, ties in index order: what a stable sort of all the
    /// indices, cut to `k`, gives. For a small `k` (the usual top 5) by insertion into a list of at most `k`, with no
    /// sort of every class; a large `k` would make that quadratic, so it sorts.
    static func highest(_ k: Int, of scores: [Double]) -> [Int] {
        guard k <= 32 else { return Array(scores.indices.sorted { scores[$0] > scores[$1] }.prefix(k)) }
        var order: [Int] = []
        order.reserveCapacity(min(k, scores.count))
        for index in scores.indices {
            // Where it goes: after every kept score it doesn't beat (so earlier indices win ties).
            var slot = order.count
            while slot > 0, scores[index] > scores[order[slot - 1]] { slot -= 1 }
            if slot < k {
                if order.count == k { order.removeLast() }
                order.insert(index, at: slot)
            }
        }
        return order
    }
}

/// The classify answer: one image's `predictions`, or per uploaded file `results` with its file name.
struct ClassifyAnswer: Encodable {
    struct Prediction: Encodable {
        let label: String
        let index: Int
        /// NaN or infinity (a model whose raw outputs are not finite) is written as null, which JSON can hold.
        let probability: Double

        enum CodingKeys: CodingKey { case label, index, probability }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(label, forKey: .label)
            try container.encode(index, forKey: .index)
            if probability.isFinite { try container.encode(probability, forKey: .probability) } else { try container.encodeNil(forKey: .probability) }
        }
    }

    struct Result: Encodable {
        let filename: String?
        let predictions: [Prediction]
    }

    let model: String
    let version: Int
    var predictions: [Prediction]?
    var results: [Result]?
}

extension ImagePayload {
    /// 415 for formats we can't read, 413 for decompression bombs and requests over their decode budget, 400 for broken files.
    static func httpError(_ error: Error, which image: String?) -> Error {
        let which = image.map { "\($0): " } ?? ""
        guard let error = error as? ImageError else { return error }
        switch error {
        case .unsupportedFormat: return HTTPError(.unsupportedMediaType, "\(which)\(error)")
        case .tooLarge, .overBudget: return HTTPError(.contentTooLarge, "\(which)\(error)")
        default: return HTTPError(.badRequest, "\(which)\(error)")
        }
    }
}


extension Image {
    /// Whether the border is mostly light (dark ink on paper rather than light strokes on black). Only the border is
    /// grayed: graying the whole image first would copy all of it (40 MB for the largest upload the limits allow).
    var hasLightBackground: Bool {
        guard width > 2, height > 2 else { return false }
        if channels == 1 {
            // Gray already (MNIST-style digits, the usual case): sum the four edges where they lie, corners twice, as
            // the crops below count them, without copying each edge out first.
            let sum = pixels.withUnsafeBufferPointer { p in
                var total = 0
                for x in 0..<width { total += Int(p[x]) + Int(p[(height - 1) * width + x]) }
                for y in 0..<height { total += Int(p[y * width]) + Int(p[y * width + width - 1]) }
                return total
            }
            return sum / (2 * (width + height)) > 127
        }
        let edges = [cropped(x: 0, y: 0, width: width, height: 1), cropped(x: 0, y: height - 1, width: width, height: 1),
                     cropped(x: 0, y: 0, width: 1, height: height), cropped(x: width - 1, y: 0, width: 1, height: height)]
        let gray = edges.map { $0.grayscale() }
        let sum = gray.reduce(0) { total, edge in edge.pixels.reduce(total) { $0 + Int($1) } }
        let count = gray.reduce(0) { $0 + $1.pixels.count }
        return sum / max(count, 1) > 127
    }
}

extension ClassifyAnswer: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.objectStart()
        json.key("model")
        json.string(model)
        if let predictions { json.key("predictions"); Self.write(predictions, to: &json) }
        if let results {
            json.key("results")
            json.arrayStart()
            for result in results {
                json.objectStart()
                if let filename = result.filename { json.key("filename"); json.string(filename) }
                json.key("predictions")
                Self.write(result.predictions, to: &json)
                json.objectEnd()
            }
            json.arrayEnd()
        }
        json.key("version")
        json.int(version)
        json.objectEnd()
    }

    private static func write(_ predictions: [Prediction], to json: inout JSONWriter) {
        json.arrayStart()
        for prediction in predictions {
            json.objectStart()
            json.key("index")
            json.int(prediction.index)
            json.key("label")
            json.string(prediction.label)
            json.key("probability")
            if prediction.probability.isFinite { json.number(prediction.probability) } else { json.null() }
            json.objectEnd()
        }
        json.arrayEnd()
    }
}

