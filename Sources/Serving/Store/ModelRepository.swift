import Dispatch
import Engine
import Foundation
import Logging

/// The models on disk (`models/NAME/config.json`, `models/NAME/VERSION/model.onnx`), loaded at
/// start-up in parallel. The highest numbered version folder is served unless config.json pins one.
///
/// Readiness tells the truth about the models that should be serving now: the repository is ready once its first
/// load pass is done — an empty repository too — and, with `strictReadiness` (Triton's default, and ours), only
/// while no model that should be serving is unavailable: one whose last load failed and that has no version serving.
/// Fixing it (a load that succeeds), removing its folder (the poller) or unloading it makes the server ready again.
public final class ModelRepository: @unchecked Sendable {
    public let root: URL
    public let strictReadiness: Bool
    private let lock = NSLock()
    /// The versions of each model that serve, highest first.
    private var models: [String: [LoadedModel]] = [:]
    /// Why the last load of a model failed, until it loads, is unloaded or leaves the repository.
    private var failures: [String: String] = [:]
    private var initialLoadDone = false

    public init(root: URL, strictReadiness: Bool = true) {
        self.root = root
        self.strictReadiness = strictReadiness
    }

    /// Model names are folder names: letters, digits, '-', '_' and '.', never '..' — so a name from
    /// a URL can never reach outside the repository.
    public static func isValidName(_ name: String) -> Bool {
        // By bytes: every allowed character is one ASCII byte, where Character's isLetter/isNumber are Unicode table
        // look-ups (this check was half of a classify request's model lookup).
        let bytes = name.utf8
        return !bytes.isEmpty && bytes.count <= 128 && bytes.first != UInt8(ascii: ".") && bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
            default: false
            }
        }
    }

    /// Folders in the repository that hold a config.json.
    public func modelNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: root.path).sorted().filter { name in
            Self.isValidName(name) && FileManager.default.fileExists(atPath: root.appendingPathComponent(name).appendingPathComponent("config.json").path)
        }
    }

    /// Loads every model, several at once; a model that fails is logged and reported by `failures`.
    public func loadAll(logger: Logger) throws {
        let names = try modelNames()
        // A model folder without config.json is not served; say so rather than start with the model silently missing.
        for entry in try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        where !entry.hasPrefix(".") && !names.contains(entry) {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root.appendingPathComponent(entry).path, isDirectory: &isDirectory),
               isDirectory.boolValue {
                logger.warning("folder \(entry) has no config.json (see models/README.md): not served")
            }
        }
        defer { lock.withLock { initialLoadDone = true } }
        DispatchQueue.concurrentPerform(iterations: names.count) { index in
            let name = names[index]
            do {
                let model = try load(name)
                logger.info("loaded model \(name) version \(model.version) in \(String(format: "%.0f", model.loadSeconds * 1000)) ms")
            } catch {
                logger.error("model \(name) failed to load: \(error)")
            }
        }
    }

    /// Loads (or reloads) one model: every version its version policy selects (`VersionPolicy`), each with its
    /// version folder's own config.json laid over the model's. All of them load or none: a failed load leaves the
    /// versions that were serving in place and throws `ServingError.loadFailed` with a reason that names files
    /// relative to the repository, never where it lives. Returns the highest version.
    @discardableResult
    public func load(_ name: String) throws -> LoadedModel {
        guard Self.isValidName(name) else { throw ServingError.badRequest("'\(name)' is not a valid model name") }
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent(name).appendingPathComponent("config.json").path) else {
            throw ServingError.modelNotFound(name)
        }
        do {
            let folder = try ModelFolder(root: root, name: name)
            let config = try ModelConfig.decode(try folder.data("config.json"))
            if config.version != nil, config.versionPolicy != nil {
                throw ConfigError("config.json", "version", "and version_policy are both given; keep one")
            }
            let policy = config.version.map { VersionPolicy.specific([$0]) } ?? config.versionPolicy ?? .latest(1)
            let versions = try policy.select(from: try versionFolders(in: folder.url))
            for (label, version) in config.versionLabels ?? [:] where !versions.contains(version) {
                throw ConfigError("config.json", "version_labels.\(label)", "is \(version), which is not a serving version (serving: \(versions.map(String.init).joined(separator: ", ")))")
            }
            let loaded = try versions.map { try LoadedModel.load(name: name, folder: folder, version: $0) }
            lock.withLock {
                models[name] = loaded
                failures[name] = nil
            }
            return loaded[0]
        } catch {
            let reason = withoutRepositoryPath("\(error)")
            lock.withLock { failures[name] = reason }
            throw ServingError.loadFailed(model: name, reason: reason)
        }
    }

    /// `text` with every mention of where the repository lives removed (paths become relative to it).
    func withoutRepositoryPath(_ text: String) -> String {
        var result = text
        let resolved = URL(fileURLWithPath: root.path).resolvingSymlinksInPath().path
        for prefix in Set([root.path, resolved, root.standardizedFileURL.path]).sorted(by: { $0.count > $1.count }) where prefix.count > 1 {
            result = result.replacingOccurrences(of: prefix + "/", with: "").replacingOccurrences(of: prefix, with: ".")
        }
        return result
    }

    /// The numbered folders (1, 2, …) of a model.
    private func versionFolders(in folder: URL) throws -> [Int] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { entry in
            var isFolder: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder.appendingPathComponent(entry).path, isDirectory: &isFolder) && isFolder.boolValue
        }.compactMap { Int($0) }.filter { $0 > 0 }
    }

    /// Stops serving a model (requests already running finish with it), or forgets a model that failed to load; either
    /// way it no longer counts for readiness.
    public func unload(_ name: String) throws {
        guard Self.isValidName(name) else { throw ServingError.badRequest("'\(name)' is not a valid model name") }
        try lock.withLock {
            let wasServing = models.removeValue(forKey: name) != nil
            let hadFailed = failures.removeValue(forKey: name) != nil
            guard wasServing || hadFailed else { throw ServingError.modelNotFound(name) }
        }
    }

    /// The highest version of `name` that serves.
    public func model(_ name: String) throws -> LoadedModel {
        guard let model = lock.withLock({ models[name]?.first }) else { throw ServingError.modelNotFound(name) }
        return model
    }

    /// One version of `name`, if it serves.
    public func model(_ name: String, version: Int) throws -> LoadedModel {
        let versions = lock.withLock { models[name] }
        guard let versions else { throw ServingError.modelNotFound(name) }
        guard let model = versions.first(where: { $0.version == version }) else {
            throw ServingError.versionNotFound(model: name, version: String(version))
        }
        return model
    }

    /// The versions of `name` that serve, highest first (empty when it doesn't).
    public func versions(of name: String) -> [Int] { lock.withLock { models[name]?.map(\.version) ?? [] } }

    /// The highest serving version of every model, by name.
    public var loaded: [LoadedModel] { lock.withLock { models.values.compactMap(\.first).sorted { $0.name < $1.name } } }
    public var loadFailures: [String: String] { lock.withLock { failures } }

    /// Models that should be serving and can't: their last load failed and no version of them serves.
    public var unavailable: [String] { lock.withLock { failures.keys.filter { models[$0] == nil }.sorted() } }

    /// Whether the first load pass is done.
    public var hasLoaded: Bool { lock.withLock { initialLoadDone } }

    /// See the type's comment.
    public var isReady: Bool { hasLoaded && (!strictReadiness || unavailable.isEmpty) }
}
