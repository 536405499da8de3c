import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A model's folder in the repository, with every path inside it resolved — symlinks included — and required to stay
/// inside it. A config's `labels_file: "../../../../etc/passwd"`, a symlink in a version folder pointing elsewhere, or
/// a model folder that is itself a symlink out of the repository are refused at load with a plain reason, so no
/// byte from outside the repository can reach a client.
struct ModelFolder {
    /// The folder, fully resolved.
    let url: URL

    /// `root/name`, refused unless it resolves to a directory inside the resolved `root`.
    init(root: URL, name: String) throws {
        let rootPath = try Self.resolve(root.path, what: "the model repository")
        let path = try Self.resolve(root.appendingPathComponent(name).path, what: "model folder '\(name)'")
        guard Self.isInside(path, rootPath) else {
            throw ModelFolderError("model folder '\(name)' resolves to a place outside the model repository")
        }
        url = URL(fileURLWithPath: path, isDirectory: true)
    }

    /// A file or folder given relative to the model's folder (by the config or the layout), resolved and checked.
    func item(_ relative: String) throws -> URL {
        guard !relative.isEmpty, !relative.hasPrefix("/") else {
            throw ModelFolderError("'\(relative.prefix(200))' must be a path relative to the model's folder")
        }
        let path = try Self.resolve(url.appendingPathComponent(relative).path, what: "'\(relative.prefix(200))'")
        guard Self.isInside(path, url.path) else {
            throw ModelFolderError("'\(relative.prefix(200))' resolves to a place outside the model's folder")
        }
        return URL(fileURLWithPath: path)
    }

    /// The contents of a file inside the folder.
    func data(_ relative: String) throws -> Data {
        let file = try item(relative)
        do { return try Data(contentsOf: file) } catch {
            throw ModelFolderError("'\(relative.prefix(200))' cannot be read")
        }
    }

    /// The model's config.json with its version folder's own config.json (if any) laid over it, key by key at the top
    /// level: a version may change its inputs, preprocessing or labels file without repeating the rest.
    func configData(version: Int) throws -> Data {
        let base = try data("config.json")
        guard FileManager.default.fileExists(atPath: url.appendingPathComponent("\(version)/config.json").path) else { return base }
        let override = try data("\(version)/config.json")
        guard var merged = try JSONSerialization.jsonObject(with: base) as? [String: Any],
              let changes = try JSONSerialization.jsonObject(with: override) as? [String: Any] else {
            throw ModelFolderError("config.json and \(version)/config.json must each be a JSON object")
        }
        for (key, value) in changes where !["name", "version", "version_policy", "version_labels"].contains(key) { merged[key] = value }
        return try JSONSerialization.data(withJSONObject: merged)
    }

    private static func resolve(_ path: String, what: String) throws -> String {
        guard let resolved = realpath(path, nil) else { throw ModelFolderError("\(what) does not exist") }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func isInside(_ path: String, _ folder: String) -> Bool {
        path == folder || path.hasPrefix(folder.hasSuffix("/") ? folder : folder + "/")
    }
}

/// Why a model folder's file was refused; says nothing of where the repository lives.
struct ModelFolderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
