import Glibc
import Logging

/// A swift-log handler writing one line per event through the buffered `LogOutput`, as text
/// (`2026-11-29T11:37:41+0000 info deepserve.http: key=value … message`) or as a JSON object (`--log-format`).
public struct LineLogHandler: LogHandler {
    public enum Format: Sendable { case text, json }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: Format
    private let output: LogOutput

    public init(label: String, format: Format, output: LogOutput = .standardOutput) {
        self.label = label
        self.format = format
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The handler's own metadata is usually empty: then the event's is used as it is, not merged into a copy.
        let all = event.metadata.map { metadata.isEmpty ? $0 : metadata.merging($0) { $1 } } ?? metadata
        let merged = all.sorted { $0.key < $1.key }
        switch format {
        case .text:
            var line = ""
            line.reserveCapacity(256)
            line += LogTimestamp.now() + " \(event.level) \(label):"
            // Escaped: metadata and messages carry client text (paths, header values), which must not forge lines.
            for (key, value) in merged { line += " \(LogText.escaped(key))=\(LogText.field("\(value)"))" }
            line += " \(LogText.escaped("\(event.message)"))"
            output.write(line.utf8, urgent: event.level >= .warning)
        case .json:
            // Bytes appended in place: a string per quoted field was most of an access line's allocations, and
            // appending to a String cost more than to an array of bytes.
            var line: [UInt8] = []
            line.reserveCapacity(256)
            line += #"{"ts":"#.utf8
            JSONString.append(LogTimestamp.now(), to: &line)
            line += #","level":"#.utf8
            JSONString.append(event.level.rawValue, to: &line)
            line += #","logger":"#.utf8
            JSONString.append(label, to: &line)
            line += #","msg":"#.utf8
            JSONString.append(event.message.description, to: &line)
            for (key, value) in merged {
                line.append(UInt8(ascii: ","))
                JSONString.append(key, to: &line)
                line.append(UInt8(ascii: ":"))
                JSONString.append(value.description, to: &line)
            }
            line.append(UInt8(ascii: "}"))
            output.write(line, urgent: event.level >= .warning)
        }
    }
}

/// Local time to the second, formatted once per second rather than once per line.
enum LogTimestamp {
    private static let cache = Locked<(second: time_t, text: String)>((-1, ""))

    static func now() -> String {
        let second = time(nil)
        if let cached = cache.withLock({ $0.second == second ? $0.text : nil }) { return cached }
        var parts = tm()
        var seconds = second
        localtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let text = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        cache.withLock { $0 = (second, text) }
        return text
    }
}
