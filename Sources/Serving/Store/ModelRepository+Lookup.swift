extension ModelRepository {
    /// The loaded model `name` at `version` as a client wrote it (a URL segment, a protobuf string): nil or empty
    /// means the highest version serving; anything else must be a positive integer written plainly ("1", not "01").
    func model(named name: String, version: String?) throws -> LoadedModel {
        guard Self.isValidName(name) else {
            throw ServingError.badRequest("'\(name.prefix(128))' is not a valid model name")
        }
        guard let version, !version.isEmpty else { return try model(name) }
        guard let number = Int(version), number > 0, String(number) == version else {
            throw ServingError.versionNotFound(model: name, version: String(version.prefix(32)))
        }
        return try model(name, version: number)
    }

    /// The loaded model `name` at the version its config.json's `version_labels` gives `label` (TF Serving's
    /// `/labels/LABEL`); an unknown label is not found, like an unknown version.
    func model(named name: String, label: String) throws -> LoadedModel {
        let highest = try model(named: name, version: nil)
        guard let version = highest.config.versionLabels?[label] else {
            throw ServingError.versionNotFound(model: name, version: "label '\(label.prefix(64))'")
        }
        return try model(name, version: version)
    }
}
