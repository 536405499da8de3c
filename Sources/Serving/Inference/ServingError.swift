/// Everything the serving layer refuses or fails at, each with the one HTTP answer it gets.
///
/// The policy (docs/ERRORS.md): a client's mistake is a 4xx that names the field and the value; the server's own
/// failure is a 5xx with a short message and the request id, its detail only in the log.
public enum ServingError: Error, Sendable, Equatable, CustomStringConvertible {
    // The client's mistakes (4xx).
    case modelNotFound(String)
    case versionNotFound(model: String, version: String)
    case badRequest(String)
    /// A field of the request (JSON key, query parameter, header) that is of the wrong kind or out of range.
    case invalidField(field: String, expected: String, got: String)
    /// A request that would cost more than the server allows one request (work, memory, decoded bytes).
    case tooLarge(String)
    case unsupportedMediaType(String)
    // Load and time (503/504).
    case modelNotReady(String)
    case queueFull(model: String, capacity: Int)
    case deadlineExceeded(model: String, milliseconds: Int)
    case shuttingDown
    // The server's own failures (5xx): the reason goes to the log, never into the answer.
    /// A loaded model that cannot serve its task (its config and its graph disagree, an output is missing…).
    case modelMisconfigured(model: String, reason: String)
    /// A model that failed to load (bad file, unknown operator, bad config); `reason` names no absolute path.
    case loadFailed(model: String, reason: String)

    public var description: String {
        switch self {
        case .modelNotFound(let name): "model '\(name)' is not loaded"
        case .versionNotFound(let model, let version): "model '\(model)' has no loaded version '\(version)'"
        case .badRequest(let reason), .tooLarge(let reason), .unsupportedMediaType(let reason): reason
        case .invalidField(let field, let expected, let got): "\"\(field)\" must be \(expected), got \(got)"
        case .modelNotReady(let name): "model '\(name)' is not ready"
        case .queueFull(let model, let capacity): "model '\(model)' has \(capacity) requests queued; retry later"
        case .deadlineExceeded(let model, let ms): "model '\(model)' did not answer within \(ms) ms"
        case .shuttingDown: "the server is shutting down"
        case .modelMisconfigured(let model, let reason): "model '\(model)' is misconfigured: \(reason)"
        case .loadFailed(let model, let reason): "loading model '\(model)' failed: \(reason)"
        }
    }

    /// Whether this is the server's own failure, to be logged with its detail.
    var isServerFailure: Bool {
        switch self {
        case .modelMisconfigured, .loadFailed: true
        default: false
        }
    }
}
