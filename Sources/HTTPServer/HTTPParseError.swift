/// Why a request could not be read. Each case maps to one status; the connection answers it and closes.
public enum HTTPParseError: Error, Equatable, Sendable {
    /// Syntax the grammar doesn't allow; the reason is short and safe to send back.
    case malformed(String)
    /// The request line is longer than `maxRequestLineLength`.
    case requestLineTooLong(limit: Int)
    /// The header section is larger than `maxHeaderSectionSize`.
    case headerSectionTooLarge(limit: Int)
    /// More fields than `maxHeaderCount`.
    case tooManyHeaders(limit: Int)
    /// The body (declared or received) is larger than the limit in force.
    case bodyTooLarge(limit: Int)
    /// An HTTP version other than 1.0 and 1.1.
    case unsupportedVersion(String)
    /// A transfer coding other than chunked.
    case unsupportedTransferEncoding(String)
    /// An Expect other than 100-continue.
    case unsupportedExpectation(String)

    public var status: HTTPStatus {
        switch self {
        case .malformed: .badRequest
        case .requestLineTooLong: .uriTooLong
        case .headerSectionTooLarge, .tooManyHeaders: .requestHeaderFieldsTooLarge
        case .bodyTooLarge: .contentTooLarge
        case .unsupportedVersion: .httpVersionNotSupported
        case .unsupportedTransferEncoding: .notImplemented
        case .unsupportedExpectation: .expectationFailed
        }
    }

    /// A short reason for the JSON error body.
    public var reason: String {
        switch self {
        case .malformed(let why): why
        case .requestLineTooLong(let limit): "request line longer than \(limit) bytes"
        case .headerSectionTooLarge(let limit): "header section larger than \(limit) bytes"
        case .tooManyHeaders(let limit): "more than \(limit) header fields"
        case .bodyTooLarge(let limit): "body larger than \(limit) bytes"
        case .unsupportedVersion(let version): "unsupported HTTP version \(version)"
        case .unsupportedTransferEncoding(let coding): "unsupported transfer coding \(coding)"
        case .unsupportedExpectation(let value): "unsupported expectation \(value)"
        }
    }
}
