import HTTPServer

extension ModelRepository {
    /// The loaded model a request's URL names: `{name}` checked against traversal, `{version}` (when the
    /// route has one) against the version serving, and the model's task against `task` when one is given.
    func model(for request: HTTPRequest, task: String? = nil) throws -> LoadedModel {
        let name = request.pathParameters["name"] ?? ""
        guard Self.isValidName(name) else { throw ServingError.badRequest("'\(name)' is not a valid model name") }
        let model = try model(name)
        if let version = request.pathParameters["version"], version != String(model.version) {
            throw ServingError.versionNotFound(model: name, version: version)
        }
        if let task, model.config.task != task {
            throw ServingError.badRequest("model '\(name)' has task \(model.config.task ?? "none"), not \(task)")
        }
        return model
    }
}
