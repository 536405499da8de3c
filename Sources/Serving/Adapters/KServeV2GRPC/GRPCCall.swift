import Foundation
import GRPCCore
import HTTPServer

/// What every gRPC method shares: failures rendered as gRPC statuses by the one error policy (`ServingFailure`),
/// and the call's timeout read as the request's deadline.
enum GRPCCall {
    static func run<Request: Sendable, Response: Sendable>(
        _ request: ServerRequest<Request>, _ method: String, _ body: () async throws -> Response
    ) async throws -> ServerResponse<Response> {
        do {
            return ServerResponse(message: try await body())
        } catch let error as RPCError {
            throw error
        } catch {
            throw failure(error, request.metadata, method)
        }
    }

    /// `error` classified by the one error policy, as a gRPC status (logged under the call's `x-request-id`, or a
    /// new id, when it is the server's own failure).
    static func failure(_ error: Error, _ metadata: Metadata, _ method: String) -> RPCError {
        if let error = error as? RPCError { return error }
        let id = metadata[stringValues: "x-request-id"].first(where: { _ in true }).map { String($0.prefix(128)) }
            ?? UUID().uuidString.prefix(13).lowercased()
        let failure = ServingFailure(error, requestID: id, context: "gRPC \(method)")
        return RPCError(code: failure.kind.grpcCode, message: failure.message)
    }

    /// The call's `grpc-timeout` (1 to 8 digits and a unit: H, M, S, m, u, n) as a deadline, capped like HTTP's
    /// `X-Deadline-Ms` at `HTTPRequest.maxDeadlineMilliseconds`; nil when the call has none. grpc-swift also cancels
    /// the call when it runs out; the deadline lets the scheduler drop it from its queue before running it.
    static func deadline(_ metadata: Metadata) throws -> Duration? {
        guard let value = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }) else { return nil }
        let digits = value.dropLast()
        guard (2...9).contains(value.count), let unit = value.last, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let amount = Int64(digits) else {
            throw ServingError.invalidField(field: "grpc-timeout", expected: "1 to 8 digits and a unit (H, M, S, m, u, n)",
                                            got: String(value.prefix(32)))
        }
        let scale: Int64
        switch unit {
        case "H": scale = 3_600_000_000_000
        case "M": scale = 60_000_000_000
        case "S": scale = 1_000_000_000
        case "m": scale = 1_000_000
        case "u": scale = 1_000
        case "n": scale = 1
        default:
            throw ServingError.invalidField(field: "grpc-timeout", expected: "a unit of H, M, S, m, u or n", got: String(value.prefix(32)))
        }
        // 99999999 hours is 3.6e20 ns, past Int64: an overflowing product is simply past the cap.
        let cap = Int64(HTTPRequest.maxDeadlineMilliseconds) * 1_000_000
        let (nanoseconds, overflow) = amount.multipliedReportingOverflow(by: scale)
        return .nanoseconds(overflow ? cap : max(1, min(nanoseconds, cap)))
    }
}

extension ServingFailure.Kind {
    /// The gRPC status code for each kind (the mapping gRPC's own HTTP gateway uses, read backwards).
    var grpcCode: RPCError.Code {
        switch self {
        case .invalidArgument, .unsupportedMediaType: .invalidArgument
        case .unauthenticated: .unauthenticated
        case .notFound: .notFound
        case .tooLarge: .resourceExhausted
        case .unavailable: .unavailable
        case .deadlineExceeded: .deadlineExceeded
        case .internalFailure: .internalError
        }
    }
}
