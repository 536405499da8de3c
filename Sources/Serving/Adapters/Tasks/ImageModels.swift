import Engine
import Foundation
import HTTPServer
import Imaging

/// The two image-producing tasks:
///
/// - `POST /v1/models/{name}/reconstruct` — an image in (raw or base64 JSON); out, as `Accept` asks, the
///   reconstructed PNG, or JSON with that PNG in base64, the latent vector, the reconstruction error and
///   whether it is above the model's anomaly threshold.
/// - `POST /v1/models/{name}/sample` — `{"count", "seed"}`, explicit `{"latent": [[…]]}`, or
///   `{"interpolate": {"from": seed, "to": seed, "steps": n}}` → one PNG grid (`Accept: image/png`) or JSON
///   with one base64 PNG per sample.
struct ImageModelRoutes: Sendable {
    let core: InferenceCore

    func register(on router: inout MeteredRouter) {
        router.post("/v1/models/{name}/reconstruct", maxBodySize: 32 << 20) { [self] request in
            try await respondAsync(request) { try await reconstruct(request) }
        }
        router.post("/v1/models/{name}/sample", maxBodySize: 1 << 20) { [self] request in
            try await respondAsync(request) { try await sample(request) }
        }
    }

    private func run(_ model: LoadedModel, _ inputs: [String: Tensor], _ request: HTTPRequest) async throws -> [String: Tensor] {
        try await core.run(model, inputs: inputs, deadline: try request.deadline()).named
    }

    // MARK: Reconstruction

    private func reconstruct(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try core.model(for: request, task: "reconstruction")
        let interface = model.interface
        guard let preprocessing = model.imagePreprocessing, let input = interface.imageInput, let output = interface.output else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "config.json has no image preprocessing")
        }
        let (images, _) = try ImagePayload.images(body: request.body, contentType: request.headers["Content-Type"])
        guard images.count == 1 else { throw ServingError.badRequest("reconstruct takes one image, got \(images.count)") }
        let pixels: [Float]
        try Task.checkCancellation()   // the client went away while the body was parsed
        do {
            var image = try Image.decode(images[0].bytes, limits: ImageClassificationRoutes.limits,
                                         target: (preprocessing.width, preprocessing.height))
            if model.config.preprocessing?.invert == .auto, image.hasLightBackground { image = image.inverted() }
            pixels = preprocessing.tensor(from: image)
        } catch {
            throw ImagePayload.httpError(error, which: nil)
        }
        let (channels, height, width) = (preprocessing.channels, preprocessing.height, preprocessing.width)
        let tensor = interface.layout.tensor(pixels, count: 1, channels: channels, height: height, width: width)
        let outputs = try await run(model, [input: tensor], request)
        guard let reconstruction = outputs[output], reconstruction.count == pixels.count else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "output '\(output)' does not match its input image")
        }
        let values = interface.layout.channelsFirst(reconstruction.floatArray(), count: 1, channels: channels, pixels: height * width)
        let error = zip(values, pixels).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(max(pixels.count, 1))
        let png = try Image(tensor: values, width: preprocessing.width, height: preprocessing.height,
                        channels: preprocessing.channels, range: .unit).pngData()
        if request.headers["Accept"]?.contains("image/png") ?? false {
            return HTTPResponse(status: .ok, headers: ["Content-Type": "image/png"], body: .bytes([UInt8](png)))
        }
        let threshold = model.config.anomaly?.threshold
        return try .json(encoding: ReconstructAnswer(model: model.name, version: model.version, reconstruction: png.base64EncodedString(),
                                                     latent: outputs["latent"].map(JSONTensorData.init), error: error,
                                                     threshold: threshold, anomaly: threshold.map { error > $0 }))
    }

    // MARK: Sampling

    private func sample(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try core.model(for: request, task: "image-generation")
        guard let input = model.plan.inputs.first, let dimension = input.shape?.last?.fixedValue else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the generator's latent input has no fixed size")
        }
        let body = request.body.isEmpty ? [:] : try request.jsonObject
        let latents = try SampleRequest.latents(body, dimension: dimension)
        let outputs = try await run(model, [input.name: Tensor(shape: [latents.count, dimension], floats: latents.flatMap { $0 })], request)
        guard let images = outputs[model.plan.outputs[0].name], images.rank == 4, images.shape[0] == latents.count else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the generator's output is not [N, C, H, W]")
        }
        let (channels, height, width) = (images.shape[1], images.shape[2], images.shape[3])
        let size = channels * height * width, values = images.floatArray()
        let samples = try (0..<latents.count).map { n in
            try Image(tensor: Array(values[(n * size)..<((n + 1) * size)]), width: width, height: height, channels: channels, range: .signed)
        }
        if request.headers["Accept"]?.contains("image/png") ?? false {
            let png = Self.grid(samples).pngData()
            return HTTPResponse(status: .ok, headers: ["Content-Type": "image/png"], body: .bytes([UInt8](png)))
        }
        return try .json(encoding: SampleAnswer(model: model.name, version: model.version, count: samples.count,
                                                images: samples.map { $0.pngData().base64EncodedString() }))
    }

    /// Images side by side in rows of up to 8, with a 2-pixel gap.
    static func grid(_ images: [Image]) -> Image {
        guard let first = images.first else { return Image(width: 1, height: 1, channels: 1) }
        let columns = min(8, images.count), rows = (images.count + columns - 1) / columns, gap = 2
        let width = columns * first.width + (columns - 1) * gap, height = rows * first.height + (rows - 1) * gap
        var pixels = [UInt8](repeating: 0, count: width * height * first.channels)
        for (index, image) in images.enumerated() {
            let (x0, y0) = ((index % columns) * (first.width + gap), (index / columns) * (first.height + gap))
            for y in 0..<image.height {
                for x in 0..<image.width {
                    for c in 0..<image.channels {
                        pixels[((y0 + y) * width + x0 + x) * first.channels + c] = image.pixels[(y * image.width + x) * image.channels + c]
                    }
                }
            }
        }
        return Image(width: width, height: height, channels: first.channels, pixels: pixels)
    }
}

/// The reconstruct answer. Every key is always present: what a model doesn't have (a latent output, an anomaly
/// threshold) is null, and so is an error that is not finite.
struct ReconstructAnswer: Encodable {
    let model: String
    let version: Int
    /// The reconstruction as a base64 PNG.
    let reconstruction: String
    let latent: JSONTensorData?
    let error: Double
    let threshold: Double?
    let anomaly: Bool?

    enum CodingKeys: CodingKey { case model, version, reconstruction, latent, error, threshold, anomaly }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(version, forKey: .version)
        try container.encode(reconstruction, forKey: .reconstruction)
        if let latent { try container.encode(latent, forKey: .latent) } else { try container.encodeNil(forKey: .latent) }
        if error.isFinite { try container.encode(error, forKey: .error) } else { try container.encodeNil(forKey: .error) }
        if let threshold, threshold.isFinite { try container.encode(threshold, forKey: .threshold) } else { try container.encodeNil(forKey: .threshold) }
        if let anomaly { try container.encode(anomaly, forKey: .anomaly) } else { try container.encodeNil(forKey: .anomaly) }
    }
}

/// The sample answer: generated images as base64 PNGs.
struct SampleAnswer: Encodable {
    let model: String
    let version: Int
    let count: Int
    let images: [String]
}
