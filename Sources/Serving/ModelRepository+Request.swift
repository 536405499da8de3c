import HTTPServer

extension ModelRepository {
    /// The loaded model a request's URL names: `{name}` checked against traversal, `{version}` (when the
    /// route has one) against the version serving, and the model's task against `task` when one is given.
    func model(for request: HTTPRequest, task: String? = nil) throws -> LoadedModel {
        let name = request.pathParameters["name"] ?? ""
        guard Self.isValidName(name) else { throw ServingError.badRequest("'\(name)' is not a valid model name") }
        let model: LoadedModel
        if let version = request.pathParameters["version"] {
            guard let number = Int(version), number > 0, String(number) == version else {
                throw ServingError.versionNotFound(model: name, version: String(version.prefix(32)))
            }
            model = try self.model(name, version: number)
        } else {
            model = try self.model(name)
        }
        if let task, model.config.task != task {
            throw ServingError.badRequest("model '\(name)' has task \(model.config.task ?? "none"), not \(task)")
        }
        return model
    }
}
