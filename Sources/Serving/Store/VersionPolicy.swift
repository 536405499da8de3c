import Foundation

/// Which version folders of a model serve at once — TensorFlow Serving's and Triton's `version_policy`:
/// `{"latest": {"num_versions": 2}}` (the default is the latest one), `{"specific": {"versions": [1, 3]}}`, or
/// `{"all": {}}`. A config's plain `"version": N` is `specific [N]`. A request names a version in its URL
/// (`/v2/models/NAME/versions/N/…`); without one it gets the highest version serving.
public enum VersionPolicy: Codable, Sendable, Equatable {
    case latest(Int)
    case specific([Int])
    case all

    private enum Keys: String, CodingKey { case latest, specific, all }
    private enum LatestKeys: String, CodingKey { case numVersions }
    private enum SpecificKeys: String, CodingKey { case versions }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Keys.self)
        guard container.allKeys.count == 1, let key = container.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: container.codingPath,
                                                    debugDescription: "must have exactly one of latest, specific or all"))
        }
        switch key {
        case .latest:
            let latest = try container.nestedContainer(keyedBy: LatestKeys.self, forKey: .latest)
            let count = try latest.decodeIfPresent(Int.self, forKey: .numVersions) ?? 1
            guard (1...100).contains(count) else {
                throw DecodingError.dataCorruptedError(forKey: .numVersions, in: latest, debugDescription: "must be 1...100, got \(count)")
            }
            self = .latest(count)
        case .specific:
            let specific = try container.nestedContainer(keyedBy: SpecificKeys.self, forKey: .specific)
            let versions = try specific.decode([Int].self, forKey: .versions)
            guard !versions.isEmpty, versions.count <= 100, versions.allSatisfy({ $0 > 0 }) else {
                throw DecodingError.dataCorruptedError(forKey: .versions, in: specific,
                                                       debugDescription: "must list 1 to 100 positive version numbers")
            }
            self = .specific(Array(Set(versions)).sorted())
        case .all:
            self = .all
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        switch self {
        case .latest(let count):
            var latest = container.nestedContainer(keyedBy: LatestKeys.self, forKey: .latest)
            try latest.encode(count, forKey: .numVersions)
        case .specific(let versions):
            var specific = container.nestedContainer(keyedBy: SpecificKeys.self, forKey: .specific)
            try specific.encode(versions, forKey: .versions)
        case .all:
            _ = container.nestedContainer(keyedBy: LatestKeys.self, forKey: .all)
        }
    }

    /// The versions to serve, highest first, from the version folders present; a specific version that has no
    /// folder is an error naming it.
    func select(from available: [Int]) throws -> [Int] {
        let present = available.sorted(by: >)
        switch self {
        case .latest(let count):
            guard !present.isEmpty else { throw ModelFolderError("the model has no version folder (1, 2, …)") }
            return Array(present.prefix(count))
        case .all:
            guard !present.isEmpty else { throw ModelFolderError("the model has no version folder (1, 2, …)") }
            return present
        case .specific(let versions):
            let missing = versions.filter { !present.contains($0) }
            guard missing.isEmpty else {
                throw ModelFolderError("config.json asks for version(s) \(missing.map(String.init).joined(separator: ", ")), which have no folder")
            }
            return versions.sorted(by: >)
        }
    }
}
