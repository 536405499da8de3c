import Engine
import HTTPServer

/// Everything the serving layer refuses, each with the one HTTP answer it gets.
public enum ServingError: Error, Sendable, Equatable, CustomStringConvertible {
    case modelNotFound(String)
    case versionNotFound(model: String, version: String)
    case modelNotReady(String)
    case badRequest(String)
    case unsupportedMediaType(String)
    case queueFull(model: String, capacity: Int)
    case deadlineExceeded(model: String, milliseconds: Int)
    case shuttingDown
    case inference(model: String, reason: String)

    public var description: String {
        switch self {
        case .modelNotFound(let name): "model '\(name)' is not loaded"
        case .versionNotFound(let model, let version): "model '\(model)' has no loaded version '\(version)'"
        case .modelNotReady(let name): "model '\(name)' is not ready"
        case .badRequest(let reason): reason
        case .unsupportedMediaType(let reason): reason
        case .queueFull(let model, let capacity): "model '\(model)' has \(capacity) requests queued; retry later"
        case .deadlineExceeded(let model, let ms): "model '\(model)' did not answer within \(ms) ms"
        case .shuttingDown: "the server is shutting down"
        case .inference(let model, let reason): "model '\(model)': \(reason)"
        }
    }

    var httpError: HTTPError {
        switch self {
        case .modelNotFound, .versionNotFound: HTTPError(.notFound, description)
        case .modelNotReady, .shuttingDown: HTTPError(.serviceUnavailable, description)
        case .badRequest, .inference: HTTPError(.badRequest, description)
        case .unsupportedMediaType: HTTPError(.unsupportedMediaType, description)
        case .queueFull:
            HTTPError(.serviceUnavailable, description, headers: ["Retry-After": "1"])
        case .deadlineExceeded: HTTPError(.gatewayTimeout, description)
        }
    }
}

extension HTTPError {
    /// The HTTP answer for anything a serving handler throws.
    static func from(_ error: Error) -> HTTPError {
        switch error {
        case let error as HTTPError: error
        case let error as ServingError: error.httpError
        case let error as EngineError: HTTPError(.badRequest, error.description)
        default: HTTPError(.internalServerError, "internal error: \(error)")
        }
    }
}
