import HTTPServer

/// The HTTP rendering of `ServingFailure` for our own routes (KServe V2, task endpoints, control): the status of the
/// failure's kind and `{"error": message}`.
enum ErrorAnswers {
    static func httpError(_ error: Error, for request: HTTPRequest) -> HTTPError {
        if let error = error as? HTTPError { return error }
        let failure = ServingFailure(error, requestID: request.requestID, context: "\(request.method) \(request.path)")
        return failure.httpError
    }
}

extension ServingFailure {
    var httpError: HTTPError {
        HTTPError(httpStatus ?? kind.httpStatus, message, headers: retryLater ? ["Retry-After": "1"] : [:])
    }
}

extension ServingFailure.Kind {
    var httpStatus: HTTPStatus {
        switch self {
        case .invalidArgument: .badRequest
        case .unauthenticated: .unauthorized
        case .notFound: .notFound
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unavailable: .serviceUnavailable
        case .deadlineExceeded: .gatewayTimeout
        case .internalFailure: .internalServerError
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
