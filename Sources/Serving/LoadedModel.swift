import Engine
import Foundation
import Imaging

/// One version of a model, compiled and ready: its config, its main plan and any component plans
/// (an autoencoder's encoder and decoder), plus the task-specific files the config names.
public final class LoadedModel: Sendable {
    public let name: String
    public let version: Int
    public let config: ModelConfig
    public let plan: Plan
    public let components: [String: Plan]
    public let labels: [String]?
    public let vocabulary: [String]?
    /// How images become the input tensor (image tasks), from config.json's `preprocessing`.
    public let imagePreprocessing: ImagePreprocessing?
    public let loadSeconds: Double

    init(name: String, version: Int, config: ModelConfig, plan: Plan, components: [String: Plan],
         labels: [String]?, vocabulary: [String]?, imagePreprocessing: ImagePreprocessing?, loadSeconds: Double) {
        self.name = name
        self.version = version
        self.config = config
        self.plan = plan
        self.components = components
        self.labels = labels
        self.vocabulary = vocabulary
        self.imagePreprocessing = imagePreprocessing
        self.loadSeconds = loadSeconds
    }

    /// Loads `folder/VERSION/model.onnx` (and every other .onnx beside it as a component) with the
    /// model's config, and runs the plan once on placeholder inputs, so a model that cannot run
    /// fails here and not on its first request.
    static func load(name: String, folder: URL, version: Int) throws -> LoadedModel {
        let start = Date()
        let configData = try Data(contentsOf: folder.appendingPathComponent("config.json"))
        let config = try ModelConfig.decode(configData)
        var imagePreprocessing: ImagePreprocessing?
        if let object = try JSONSerialization.jsonObject(with: configData) as? [String: Any],
           let preprocessing = object["preprocessing"] {
            imagePreprocessing = try JSONDecoder().decode(ImagePreprocessing.self,
                                                          from: try JSONSerialization.data(withJSONObject: preprocessing))
        }
        guard config.name == name else {
            throw ServingError.badRequest("config.json of folder '\(name)' names the model '\(config.name)'")
        }
        let versionFolder = folder.appendingPathComponent(String(version))
        let plan = try Plan(contentsOf: versionFolder.appendingPathComponent("model.onnx"))
        _ = try plan.inferShapes(dynamicSize: 1)
        var components: [String: Plan] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: versionFolder.path).sorted()
        where file.hasSuffix(".onnx") && file != "model.onnx" {
            let component = try Plan(contentsOf: versionFolder.appendingPathComponent(file))
            _ = try component.inferShapes(dynamicSize: 1)
            components[String(file.dropLast(5))] = component
        }
        let labels = try config.labelsFile.map { file in
            try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        }
        let vocabulary = try config.vocabFile.map { file -> [String] in
            let data = try Data(contentsOf: folder.appendingPathComponent(file))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let tokens = object["tokens"] as? [String] else {
                throw ServingError.badRequest("\(file) has no \"tokens\" list")
            }
            return tokens
        }
        return LoadedModel(name: name, version: version, config: config, plan: plan, components: components,
                           labels: labels, vocabulary: vocabulary, imagePreprocessing: imagePreprocessing,
                           loadSeconds: Date().timeIntervalSince(start))
    }
}
