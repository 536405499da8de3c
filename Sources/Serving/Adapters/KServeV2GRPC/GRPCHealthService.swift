import Foundation
import GRPCCore
import InferenceGRPC

/// The standard gRPC health service (`grpc.health.v1.Health`), which Kubernetes' `grpc:` probes call: SERVING while
/// the model repository is ready (the same truth as `/health/ready` and `ServerReady`), NOT_SERVING otherwise. The
/// empty service name means the server; `inference.GRPCInferenceService` is the one service it knows by name.
struct GRPCHealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus
    static let services: Set<String> = ["", "inference.GRPCInferenceService"]
    /// How often Watch looks at readiness.
    static let watchInterval: Duration = .seconds(1)

    let repository: ModelRepository
    let draining: DrainFlag

    /// NOT_SERVING once the server drains, so a probe takes the pod out of rotation before it stops.
    private var status: Status { repository.isReady && !draining.isSet ? .serving : .notServing }

    func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard Self.services.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service '\(request.service.prefix(128))'")
        }
        return Self.answer(status)
    }

    /// Sends the status now and again whenever it changes, until the client goes away or the server drains.
    func watch(request: Grpc_Health_V1_HealthCheckRequest, response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
               context: ServerContext) async throws {
        guard Self.services.contains(request.service) else {
            try await response.write(Self.answer(.serviceUnknown))
            return
        }
        var last: Status?
        while !Task.isCancelled {
            let now = status
            if now != last {
                try await response.write(Self.answer(now))
                last = now
            }
            // A drain waits for every open call: a watch ends once it has told its client NOT_SERVING.
            if draining.isSet { return }
            try await Task.sleep(for: Self.watchInterval)
        }
    }

    private static func answer(_ status: Status) -> Grpc_Health_V1_HealthCheckResponse {
        var answer = Grpc_Health_V1_HealthCheckResponse()
        answer.status = status
        return answer
    }
}

/// Set once when the server starts draining; read by calls that would otherwise run until their client leaves.
final class DrainFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
