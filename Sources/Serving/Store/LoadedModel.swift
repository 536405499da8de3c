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
    /// What the config and the graph agree on (checked at load): image input and layout, output, activation.
    let interface: ModelInterface
    /// Where each input and output of the main plan holds the batch (config.json's `batch_axis`).
    let batchAxes: BatchAxes
    public let loadSeconds: Double

    init(name: String, version: Int, config: ModelConfig, plan: Plan, components: [String: Plan],
         labels: [String]?, vocabulary: [String]?, imagePreprocessing: ImagePreprocessing?, interface: ModelInterface,
         loadSeconds: Double) {
        self.name = name
        self.version = version
        self.config = config
        self.plan = plan
        self.components = components
        self.labels = labels
        self.vocabulary = vocabulary
        self.imagePreprocessing = imagePreprocessing
        self.interface = interface
        batchAxes = BatchAxes(config)
        self.loadSeconds = loadSeconds
    }

    /// A replaced or unloaded version is freed when its last request finishes; its weights (megabytes, freed in
    /// pieces) then go back to the system rather than stay in malloc's free lists, so reloads keep memory flat.
    deinit { MallocTrim.releaseFreeMemory() }

    /// Loads `folder/VERSION/model.onnx` (and every other .onnx beside it as a component) with the
    /// model's config, checks the config against the graph, and runs the plan once on zeros at the shapes the config
    /// gives (`TrialRun`), so a model that cannot run fails here and not on its first request. Every file is resolved
    /// inside the model's folder (`ModelFolder`).
    static func load(name: String, folder: ModelFolder, version: Int) throws -> LoadedModel {
        let start = Date()
        let configData = try folder.configData(version: version)
        let config = try ModelConfig.decode(configData, file: "config.json of version \(version)")
        var imagePreprocessing: ImagePreprocessing?
        if let object = try JSONSerialization.jsonObject(with: configData) as? [String: Any],
           let preprocessing = object["preprocessing"] {
            do {
                imagePreprocessing = try JSONDecoder().decode(ImagePreprocessing.self,
                                                              from: try JSONSerialization.data(withJSONObject: preprocessing))
            } catch let error as DecodingError {
                throw ConfigError(decoding: error, file: "config.json (preprocessing)")
            }
        }
        guard config.name == name else {
            throw ModelFolderError("config.json of folder '\(name)' names the model '\(config.name)'")
        }
        let versionFolder = try folder.item(String(version))
        let plan = try Plan(contentsOf: try folder.item("\(version)/model.onnx"))
        var components: [String: Plan] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: versionFolder.path).sorted()
        where file.hasSuffix(".onnx") && file != "model.onnx" {
            let component = try Plan(contentsOf: try folder.item("\(version)/\(file)"))
            _ = try component.inferShapes(dynamicSize: 1)
            components[String(file.dropLast(5))] = component
        }
        let labels = try config.labelsFile.map { file in
            String(decoding: try folder.data(file), as: UTF8.self)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
        }
        let vocabulary = try config.vocabFile.map { file -> [String] in
            guard let object = try JSONSerialization.jsonObject(with: try folder.data(file)) as? [String: Any],
                  let tokens = object["tokens"] as? [String] else {
                throw ModelFolderError("\(file) has no \"tokens\" list")
            }
            return tokens
        }
        let interface = try ModelInterface.check(config: config, plan: plan, preprocessing: imagePreprocessing,
                                                 labels: labels, vocabulary: vocabulary)
        try TrialRun.run(plan, inputs: config.inputs, axes: BatchAxes(config))
        return LoadedModel(name: name, version: version, config: config, plan: plan, components: components,
                           labels: labels, vocabulary: vocabulary, imagePreprocessing: imagePreprocessing,
                           interface: interface, loadSeconds: Date().timeIntervalSince(start))
    }
}

/// glibc's `malloc_trim`, which Swift's Glibc module does not import (malloc.h): looked up once by name.
enum MallocTrim {
    private typealias Function = @convention(c) (Int) -> Int32
    private static let function: Function? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }()

    /// Returns free heap memory (in every arena) to the system.
    static func releaseFreeMemory() { _ = function?(0) }
}

extension LoadedModel {
    /// What the server will do with this model, in a few lines (for `deepserve check-model`).
    public var servingSummary: [String] {
        var lines = ["model \(name) version \(version): task \(config.task ?? "none (KServe V2 only)")"]
        lines += plan.inputs.map { "  input  \($0)" }
        lines += plan.outputs.map { "  output \($0)" }
        if let input = interface.imageInput, let preprocessing = imagePreprocessing {
            lines.append("  images go into '\(input)' as \(interface.layout.rawValue), \(preprocessing.width)x\(preprocessing.height)x\(preprocessing.channels)"
                         + (config.preprocessing?.invert == .auto ? ", light backgrounds inverted" : ""))
        }
        if config.task == "image-classification", let output = interface.output {
            lines.append("  classes read from '\(output)' with activation \(interface.activation.rawValue)"
                         + (labels.map { ", \($0.count) labels" } ?? ", no labels (indices)"))
        } else if let output = interface.output {
            lines.append("  reads output '\(output)'")
        }
        if !components.isEmpty { lines.append("  components: \(components.keys.sorted().joined(separator: ", "))") }
        return lines
    }
}
