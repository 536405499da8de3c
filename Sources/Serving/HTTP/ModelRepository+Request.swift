import HTTPServer

extension ModelRepository {
    /// The loaded model a request's URL names: `{name}` checked against traversal, `{version}` (when the
    /// route has one) against the versions serving, and the model's task against `task` when one is given.
    func model(for request: HTTPRequest, task: String? = nil) throws -> LoadedModel {
        let name = request.pathParameters["name"] ?? ""
        let model = try model(named: name, version: request.pathParameters["version"])
        if let task, model.config.task != task {
            throw ServingError.badRequest("model '\(name)' has task \(model.config.task ?? "none"), not \(task)")
        }
        return model
    }
}
