import HTTPServer

extension InferenceCore {
    /// The loaded model a request's URL names: `{name}` checked against traversal, `{version}` (when the
    /// route has one) against the versions serving, or `{label}` (TF Serving's routes) against the model's version
    /// labels, and the model's task against `task` when one is given.
    func model(for request: HTTPRequest, task: String? = nil) throws -> LoadedModel {
        try model(request.pathParameters["name"] ?? "", version: request.pathParameters["version"],
                  label: request.pathParameters["label"], task: task)
    }
}
