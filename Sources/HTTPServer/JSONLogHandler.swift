import Foundation
import Logging

/// A swift-log handler writing one JSON object per line to standard output (for `--log-format json`).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private static let output = Locked(FileHandle.standardOutput)

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\(JSONString.quote(Date().formatted(.iso8601))),\"level\":\"\(event.level)\",\"logger\":\(JSONString.quote(label)),\"msg\":\(JSONString.quote("\(event.message)"))"
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line += ",\(JSONString.quote(key)):\(JSONString.quote("\(value)"))"
        }
        line += "}\n"
        let data = Data(line.utf8)
        Self.output.withLock { $0.write(data) }
    }
}
