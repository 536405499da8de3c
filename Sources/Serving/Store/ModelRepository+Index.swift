extension ModelRepository {
    /// One model of the repository as the control APIs list it (Triton's repository index): the version serving, or
    /// why it is unavailable.
    struct IndexEntry: Encodable, Sendable {
        enum State: String, Encodable, Sendable {
            case ready = "READY"
            case unavailable = "UNAVAILABLE"
        }

        let name: String
        var version: String?
        let state: State
        var reason: String?
    }

    /// Every model folder of the repository, by name.
    func index() throws -> [IndexEntry] {
        let loaded = Dictionary(self.loaded.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let failures = loadFailures
        return try modelNames().map { name in
            if let model = loaded[name] { return IndexEntry(name: name, version: String(model.version), state: .ready) }
            return IndexEntry(name: name, state: .unavailable, reason: failures[name])
        }
    }
}
