import Foundation

/// Every `serve` setting can also come from a `DEEPSERVE_*` environment variable (the flag's name in
/// upper snake case: `--max-body-size` ↔ `DEEPSERVE_MAX_BODY_SIZE`); a flag on the command line wins.
/// A variable that doesn't parse is remembered and refused at start-up, naming the variable and flag.
enum EnvironmentDefaults {
    nonisolated(unsafe) private(set) static var invalid: [String] = []
    private static let lock = NSLock()

    static func variable(for flag: String) -> String {
        "DEEPSERVE_" + flag.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    static func string(_ flag: String, _ fallback: String) -> String {
        ProcessInfo.processInfo.environment[variable(for: flag)] ?? fallback
    }

    static func optionalString(_ flag: String) -> String? {
        ProcessInfo.processInfo.environment[variable(for: flag)].flatMap { $0.isEmpty ? nil : $0 }
    }

    static func value<T: LosslessStringConvertible>(_ flag: String, _ fallback: T) -> T {
        let name = variable(for: flag)
        guard let text = ProcessInfo.processInfo.environment[name] else { return fallback }
        guard let value = T(text.trimmingCharacters(in: .whitespaces)) else {
            lock.withLock { invalid.append("\(name)='\(text)' is not a valid value for --\(flag)") }
            return fallback
        }
        return value
    }
}
