import Foundation

/// `models/NAME/config.json`, as documented in `models/README.md`. Unknown keys are ignored; what
/// the serving layer needs is decoded and checked when the model loads.
public struct ModelConfig: Codable, Sendable {
    public struct TensorSpec: Codable, Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// The axis that holds the batch (default 0): batching joins requests' tensors along it and splits the
        /// results along the output's. An LSTM's state `h` [layers, batch, hidden] has it on axis 1.
        public var batchAxis: Int?

        enum CodingKeys: String, CodingKey { case name, dtype, shape, batchAxis }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            dtype = try container.decode(String.self, forKey: .dtype)
            shape = try container.decode([Int].self, forKey: .shape)
            // Read as a number and converted exactly: Foundation's own Int decoding reports 1.5 without the key.
            if let value = try container.decodeIfPresent(Double.self, forKey: .batchAxis) {
                guard let axis = Int(exactly: value) else {
                    throw DecodingError.dataCorruptedError(forKey: .batchAxis, in: container, debugDescription: "must be a whole number, is \(value)")
                }
                batchAxis = axis
            }
        }
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
        public var invert: Invert?
        /// "NCHW" or "NHWC"; absent: inferred from the graph's input where that is unambiguous, else NCHW.
        public var layout: String?
    }

    /// `preprocessing.invert`: `true` always, `false` (the default) never, `"auto"` only for an image whose border
    /// is light (dark ink on paper shown to a white-on-black model). Auto-inversion is never implied by `polarity`.
    public enum Invert: Codable, Sendable, Equatable {
        case always, never, auto

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = flag ? .always : .never
            } else if (try? container.decode(String.self)) == "auto" {
                self = .auto
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "must be true, false or \"auto\"")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .always: try container.encode(true)
            case .never: try container.encode(false)
            case .auto: try container.encode("auto")
            }
        }
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
        /// Whether concurrent generations share each step's run (`StepBatcher`); default true. false: each
        /// generation runs its steps alone, one request per step, as before step batching (for comparison).
        public var stepBatching: Bool?
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
    /// One of `tasks`, for the task endpoints; absent: the model serves KServe V2 `…/infer` only.
    public var task: String?
    public var description: String?
    public var version: Int?
    /// Which versions serve at once (default: the latest one); `version` pins one instead.
    public var versionPolicy: VersionPolicy?
    /// TF Serving's version labels: a name (`stable`, `canary`) for a serving version, for
    /// `/v1/models/NAME/labels/LABEL…`. Read from the raw JSON (`versionLabels(in:)`): the decoder's snake-case key
    /// conversion would rename a label like `blue_green`.
    public var versionLabels: [String: Int]?
    public var inputs: [TensorSpec]
    public var outputs: [TensorSpec]
    public var preprocessing: Preprocessing?
    public var labelsFile: String?
    public var vocabFile: String?
    public var recurrent: Recurrent?
    public var generation: Generation?
    public var batching: Batching?
    /// Threads one run of the model computes on (intra-op parallelism; default: the server's --intra-op-threads).
    /// Worth it for a large network served at low concurrency: batch-1 latency drops, and the scheduler counts the
    /// extra cores as busy while the run holds them.
    public var intraOpThreads: Int?
    public var anomaly: Anomaly?
    public var postprocessing: Postprocessing?

    public struct Postprocessing: Codable, Sendable {
        public var topK: Int?
        /// The output a task reads (default: the graph's first output).
        public var output: String?
        /// "softmax", "sigmoid" (independent scores: multi-label) or "none"; default: "none" when the graph already
        /// ends in Softmax or Sigmoid, else "softmax".
        public var activation: String?
    }

    var postprocessingTopK: Int? { postprocessing?.topK }

    /// " (line L, column C)" for a parser message that says "character N" (an offset into `data`), else "".
    static func lineAndColumn(of message: String, in data: Data) -> String {
        guard let range = message.range(of: #"character \d+"#, options: .regularExpression),
              let offset = Int(message[range].dropFirst("character ".count)), offset <= data.count else { return "" }
        let before = data.prefix(offset)
        let line = before.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        let column = offset - (before.lastIndex(of: UInt8(ascii: "\n")).map { $0 - data.startIndex + 1 } ?? 0) + 1
        return " (line \(line), column \(column))"
    }

    /// The tasks a model can have.
    static let tasks = ["image-classification", "text-generation", "reconstruction", "image-generation"]

    /// Decodes config.json; a problem is a `ConfigError` naming the key path (snake_case, as written in the file)
    /// and, for malformed JSON, where it is.
    static func decode(_ data: Data, file: String = "config.json") throws -> ModelConfig {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            // Foundation's parser says where (line and column); the decoder's own error does not.
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw ConfigError(file, "", "is not valid JSON: \(detail)\(Self.lineAndColumn(of: detail, in: data))")
        }
        // Labels first: checked as written, they then decode (the decoder alone would name a bad value poorly).
        let labels = try versionLabels(in: object, file: file)
        do {
            var config = try decoder.decode(ModelConfig.self, from: data)
            config.versionLabels = labels
            return config
        } catch let error as DecodingError {
            throw ConfigError(decoding: error, file: file)
        }
    }

    /// `version_labels` as written: label names of letters, digits, `_`, `.` and `-` (at most 64, starting with a
    /// letter or digit), each naming a version number in 1...2^31−1.
    private static func versionLabels(in object: Any, file: String) throws -> [String: Int]? {
        guard let value = (object as? [String: Any])?["version_labels"], !(value is NSNull) else { return nil }
        guard let labels = value as? [String: Any] else {
            throw ConfigError(file, "version_labels", "must be an object of label names and version numbers")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        var checked: [String: Int] = [:]
        for (label, version) in labels {
            guard (1...64).contains(label.count), label.allSatisfy(allowed.contains), let first = label.first, first.isLetter || first.isNumber else {
                throw ConfigError(file, "version_labels", "has the label \"\(label.prefix(64))\"; a label is 1 to 64 letters, digits, _, . or -, starting with a letter or digit")
            }
            guard let number = version as? NSNumber, !["c", "B"].contains(String(cString: number.objCType)),
                  let integer = Int(exactly: number.doubleValue), (1...Int(Int32.max)).contains(integer) else {
                throw ConfigError(file, "version_labels.\(label)", "must be a version number (1 or more)")
            }
            checked[label] = integer
        }
        return checked
    }
}

/// A config.json that can't serve its model, in one plain sentence naming the file, the key and the values.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ file: String, _ key: String, _ problem: String) {
        description = key.isEmpty ? "\(file) \(problem)" : "\(file): \(key) \(problem)"
    }

    init(decoding error: DecodingError, file: String) {
        func path(_ keys: [any CodingKey]) -> String {
            let parts = keys.map { key in key.intValue.map { "[\($0)]" } ?? "." + Self.snakeCase(key.stringValue) }
            let joined = parts.joined()
            return joined.hasPrefix(".") ? String(joined.dropFirst()) : (joined.isEmpty ? "the top level" : joined)
        }
        switch error {
        case .keyNotFound(let key, let context):
            description = "\(file): \(path(context.codingPath + [key])) is required but missing"
        case .typeMismatch(let type, let context):
            description = "\(file): \(path(context.codingPath)) must be \(Self.kind(type))"
        case .valueNotFound(let type, let context):
            description = "\(file): \(path(context.codingPath)) must be \(Self.kind(type)), not null"
        case .dataCorrupted(let context):
            if let underlying = context.underlyingError as NSError?, let detail = underlying.userInfo[NSDebugDescriptionErrorKey] as? String {
                description = "\(file) is not valid JSON: \(detail)"
            } else {
                description = "\(file): \(path(context.codingPath)) \(context.debugDescription)"
            }
        @unknown default:
            description = "\(file): \(error)"
        }
    }

    static func snakeCase(_ camel: String) -> String {
        var result = ""
        for character in camel {
            if character.isUppercase { result += "_" + character.lowercased() } else { result.append(character) }
        }
        return result
    }

    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type, is Float.Type, is UInt8.Type: "a number"
        case is Bool.Type: "true or false"
        default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
        }
    }
}
