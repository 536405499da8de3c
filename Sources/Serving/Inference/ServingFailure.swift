import Engine
import HTTPServer
import Logging

/// Whatever a request fails with, classified once by the policy in docs/ERRORS.md, for any protocol to render in its
/// own wire format: KServe V2 HTTP and the task endpoints as an HTTP status with `{"error": …}`, TensorFlow Serving
/// REST the same way with TF Serving's statuses, gRPC as a status code with the message.
///
/// A client's mistake keeps its reason; the server's own failure gets a short message with the request id, and its
/// detail goes to the log under that id — never a file path or internal text in the answer.
struct ServingFailure: Error, Sendable, Equatable {
    /// What went wrong, in terms every protocol has a status for.
    enum Kind: Sendable, Equatable {
        case invalidArgument
        case unauthenticated
        case notFound
        case tooLarge
        case unsupportedMediaType
        /// Not ready, queue full, shutting down, cancelled.
        case unavailable
        case deadlineExceeded
        case internalFailure
    }

    let kind: Kind
    let message: String
    /// Whether a retry soon may succeed (a full queue): HTTP says `Retry-After: 1`.
    var retryLater = false
    /// An HTTP status this failure already had (a handler's own `HTTPError`, such as 408 or 431), kept for HTTP
    /// answers so nothing changes for them; other protocols use `kind`.
    var httpStatus: HTTPStatus?

    static let logger = Logger(label: "deepserve.errors")

    /// The one classification. `context` names the request in the log ("POST /v2/…" or "gRPC ModelInfer").
    init(_ error: Error, requestID: String, context: @autoclosure () -> String) {
        func logged(_ detail: String) {
            Self.logger.error("\(context()) failed: \(detail)", metadata: ["request_id": "\(requestID)"])
        }
        switch error {
        case let error as ServingFailure:
            self = error
        case let error as HTTPError:
            self.init(kind: Kind(httpStatus: error.status.code), message: error.message,
                      retryLater: error.headers["Retry-After"] != nil, httpStatus: error.status)
        case let error as ServingError:
            if error.isServerFailure { logged(error.description) }
            self = error.failure(requestID: requestID)
        case let error as EngineError:
            switch error {
            case .deadlineExceeded:
                self.init(kind: .deadlineExceeded, message: "the request's deadline passed while the model ran")
            case .cancelled:
                self.init(kind: .unavailable, message: "the request was cancelled")
            case .resourceLimit:
                self.init(kind: .tooLarge, message: "the request needs more than the server allows one request: \(error.description)")
            default:
                if error.isCausedByInput {
                    self.init(kind: .invalidArgument, message: "the model cannot run on this input: \(error.description)")
                } else {
                    logged("engine: \(error.description)")
                    self.init(kind: .internalFailure, message: "the model failed on this request (a server-side problem; request id \(requestID))")
                }
            }
        case is CancellationError:
            self.init(kind: .unavailable, message: "the request was cancelled")
        default:
            logged("unexpected: \(error)")
            self.init(kind: .internalFailure, message: "internal error (request id \(requestID))")
        }
    }

    init(kind: Kind, message: String, retryLater: Bool = false, httpStatus: HTTPStatus? = nil) {
        self.kind = kind
        self.message = message
        self.retryLater = retryLater
        self.httpStatus = httpStatus
    }
}

extension ServingFailure.Kind {
    /// The kind of an HTTP status a handler chose itself.
    init(httpStatus code: Int) {
        switch code {
        case 401, 403: self = .unauthenticated
        case 404: self = .notFound
        case 413, 431: self = .tooLarge
        case 415: self = .unsupportedMediaType
        case 503: self = .unavailable
        case 408, 504: self = .deadlineExceeded
        case 400..<500: self = .invalidArgument
        default: self = .internalFailure
        }
    }
}

extension ServingError {
    /// How the policy classifies each case; `requestID` goes into the message of a server failure so it can be
    /// found in the log.
    func failure(requestID: String) -> ServingFailure {
        switch self {
        case .modelNotFound, .versionNotFound: ServingFailure(kind: .notFound, message: description)
        case .badRequest, .invalidField: ServingFailure(kind: .invalidArgument, message: description)
        case .tooLarge: ServingFailure(kind: .tooLarge, message: description)
        case .unsupportedMediaType: ServingFailure(kind: .unsupportedMediaType, message: description)
        case .modelNotReady, .shuttingDown: ServingFailure(kind: .unavailable, message: description)
        case .queueFull: ServingFailure(kind: .unavailable, message: description, retryLater: true)
        case .deadlineExceeded: ServingFailure(kind: .deadlineExceeded, message: description)
        case .modelMisconfigured(let model, _):
            ServingFailure(kind: .internalFailure,
                           message: "model '\(model)' cannot serve this request (a server-side problem; request id \(requestID))")
        case .loadFailed:
            // Only the authenticated control API loads models on request: the operator gets the reason (no paths).
            ServingFailure(kind: .internalFailure, message: "\(description) (request id \(requestID))")
        }
    }
}
