import Dispatch
import GRPCCore
import Metrics

/// Counts every gRPC call by method and status code and times it, beside the HTTP routes' metrics in `/metrics`:
/// `deepserve_grpc_requests_total{method, code}` and `deepserve_grpc_request_duration_seconds{method}`.
struct GRPCMetricsInterceptor: ServerInterceptor {
    func intercept<Input: Sendable, Output: Sendable>(
        request: StreamingServerRequest<Input>, context: ServerContext,
        next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
    ) async throws -> StreamingServerResponse<Output> {
        let start = DispatchTime.now().uptimeNanoseconds
        let method = context.descriptor.fullyQualifiedMethod
        do {
            let response = try await next(request, context)
            switch response.accepted {
            case .success: Self.record(method: method, code: "ok", since: start)
            case .failure(let error): Self.record(method: method, code: "\(error.code)", since: start)
            }
            return response
        } catch let error as RPCError {
            Self.record(method: method, code: "\(error.code)", since: start)
            throw error
        } catch {
            Self.record(method: method, code: "\(RPCError.Code.unknown)", since: start)
            throw error
        }
    }

    private static func record(method: String, code: String, since start: UInt64) {
        let elapsed = Int64(DispatchTime.now().uptimeNanoseconds - start)
        Counter(label: "deepserve_grpc_requests_total", dimensions: [("method", method), ("code", code)]).increment()
        Timer(label: "deepserve_grpc_request_duration_seconds", dimensions: [("method", method)]).recordNanoseconds(elapsed)
    }
}
