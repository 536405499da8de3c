import Foundation
import Logging

/// A swift-log handler writing one JSON object per line through the buffered `LogOutput` (for `--log-format json`).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let output: LogOutput

    public init(label: String, output: LogOutput = .standardOutput) {
        self.label = label
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\(JSONString.quote(LogTimestamp.now())),\"level\":\"\(event.level)\",\"logger\":\(JSONString.quote(label)),\"msg\":\(JSONString.quote("\(event.message)"))"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += ",\(JSONString.quote(key)):\(JSONString.quote("\(value)"))"
        }
        line += "}"
        output.write(line, urgent: event.level >= .warning)
    }
}
