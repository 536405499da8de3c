import Foundation

/// `models/NAME/config.json`, as documented in `models/README.md`. Unknown keys are ignored; what
/// the serving layer needs is decoded and checked when the model loads.
public struct ModelConfig: Codable, Sendable {
    public struct TensorSpec: Codable, Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
    }

    public struct Preprocessing: Codable, Sendable {
        public var width: Int?
        public var height: Int?
        public var channels: Int?
        public var color: String?
        public var resize: String?
        public var scale: Double?
        public var mean: [Double]?
        public var std: [Double]?
        public var polarity: String?
        public var invert: Bool?
    }

    public struct Recurrent: Codable, Sendable {
        public struct State: Codable, Sendable {
            public var input: String
            public var output: String
            public var `init`: String?
        }
        public var layout: String?
        public var tokenInput: String
        public var logitsOutput: String
        public var state: [State]
    }

    public struct Generation: Codable, Sendable {
        public var temperature: Double?
        public var topK: Int?
        public var topP: Double?
        public var maxTokens: Int?
        public var maxTokensLimit: Int?
    }

    public struct Batching: Codable, Sendable {
        public var maxBatchSize: Int?
        public var maxQueueDelayMicroseconds: Int?
        public var queueSize: Int?
    }

    public struct Anomaly: Codable, Sendable {
        public var metric: String?
        public var threshold: Double
    }

    public var name: String
    public var task: String
    public var description: String?
    public var version: Int?
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]
    public var preprocessing: Preprocessing?
    public var labelsFile: String?
    public var vocabFile: String?
    public var recurrent: Recurrent?
    public var generation: Generation?
    public var batching: Batching?
    public var anomaly: Anomaly?
    public var postprocessing: Postprocessing?

    public struct Postprocessing: Codable, Sendable {
        public var topK: Int?
    }

    var postprocessingTopK: Int? { postprocessing?.topK }
    /// "white-on-black" or "black-on-white": what the network was trained on.
    var preprocessingPolarity: String? { preprocessing?.polarity }

    static func decode(_ data: Data) throws -> ModelConfig {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ModelConfig.self, from: data)
    }
}
