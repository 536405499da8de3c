import Engine
import HTTPServer
import Logging

/// Turns whatever a serving handler throws into its HTTP answer, by the policy in docs/ERRORS.md: a client's mistake
/// is a 4xx that says what was wrong with the request; the server's own failure is a 5xx with a short message and
/// the request id, and its detail goes to the log under that id — never a file path or internal text in the body.
enum ErrorAnswers {
    /// swift-log routes this to the handler `deepserve serve` bootstrapped (text or JSON lines).
    static let logger = Logger(label: "deepserve.errors")

    static func httpError(_ error: Error, for request: HTTPRequest) -> HTTPError {
        let requestID = request.requestID
        switch error {
        case let error as HTTPError:
            return error
        case let error as ServingError:
            if error.isServerFailure { log(error.description, request) }
            return error.httpError(requestID: requestID)
        case let error as EngineError:
            switch error {
            case .deadlineExceeded: return HTTPError(.gatewayTimeout, "the request's deadline passed while the model ran")
            case .cancelled: return HTTPError(.serviceUnavailable, "the request was cancelled")
            case .resourceLimit: return HTTPError(.contentTooLarge, "the request needs more than the server allows one request: \(error.description)")
            default: break
            }
            if error.isCausedByInput {
                return HTTPError(.badRequest, "the model cannot run on this input: \(error.description)")
            }
            log("engine: \(error.description)", request)
            return HTTPError(.internalServerError, "the model failed on this request (a server-side problem; request id \(requestID))")
        case is CancellationError:
            return HTTPError(.serviceUnavailable, "the request was cancelled")
        default:
            log("unexpected: \(error)", request)
            return HTTPError(.internalServerError, "internal error (request id \(requestID))")
        }
    }

    private static func log(_ detail: String, _ request: HTTPRequest) {
        logger.error("\(request.method) \(request.path) failed: \(detail)", metadata: ["request_id": "\(request.requestID)"])
    }
}

extension ServingError {
    /// The answer a client gets; `requestID` goes into the message of a server failure so it can be found in the log.
    func httpError(requestID: String) -> HTTPError {
        switch self {
        case .modelNotFound, .versionNotFound: HTTPError(.notFound, description)
        case .badRequest, .invalidField: HTTPError(.badRequest, description)
        case .tooLarge: HTTPError(.contentTooLarge, description)
        case .unsupportedMediaType: HTTPError(.unsupportedMediaType, description)
        case .modelNotReady, .shuttingDown: HTTPError(.serviceUnavailable, description)
        case .queueFull: HTTPError(.serviceUnavailable, description, headers: ["Retry-After": "1"])
        case .deadlineExceeded: HTTPError(.gatewayTimeout, description)
        case .modelMisconfigured(let model, _):
            HTTPError(.internalServerError, "model '\(model)' cannot serve this request (a server-side problem; request id \(requestID))")
        case .loadFailed:
            // Only the authenticated control API loads models on request: the operator gets the reason (no paths).
            HTTPError(.internalServerError, "\(description) (request id \(requestID))")
        }
    }
}

/// Runs a handler body, turning every thrown error into its HTTP answer.
func respond(_ request: HTTPRequest, _ body: () throws -> HTTPResponse) throws -> HTTPResponse {
    do { return try body() } catch { throw ErrorAnswers.httpError(error, for: request) }
}

func respondAsync(_ request: HTTPRequest, _ body: () async throws -> HTTPResponse) async throws -> HTTPResponse {
    do { return try await body() } catch { throw ErrorAnswers.httpError(error, for: request) }
}
