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
}
