import Foundation
import HTTPServer
import Logging

/// Triton's model-repository extension: `POST /v2/repository/index`, `POST /v2/repository/models/{name}/load`
/// and `…/unload`, behind a bearer token. Without a configured token the routes do not exist.
///
/// A load that fails (corrupt file, unknown op, bad config) answers 500 with the reason (no paths) and leaves the
/// version that was serving in place; requests already running keep the model they started with.
struct ControlRoutes: Sendable {
    let repository: ModelRepository
    let token: String
    let logger: Logger

    func register(on router: inout MeteredRouter) {
        // The token is checked on the head too, so a client without it gets 401 before 100 Continue and before
        // sending (or us reading) a body; the handlers check again.
        let precheck: HTTPPrecheck = { [self] head throws(HTTPError) in try authorize(head) }
        router.post("/v2/repository/index", precheck: precheck) { [self] request in
            try respond(request) {
                try authorize(request.head)
                return try .json(encoding: try repository.index())
            }
        }
        router.post("/v2/repository/models/{name}/load", precheck: precheck) { [self] request in
            try await respondAsync(request) {
                try authorize(request.head)
                let name = request.pathParameters["name"] ?? ""
                // Loading takes seconds of file reading and compiling: not on the inference workers. A failure is a
                // 500 (ErrorAnswers logs it); the version that was serving, if any, stays.
                let model = try await Self.offWorkers { [repository] in try repository.load(name) }
                logger.info("loaded model \(name) version \(model.version) on request")
                return try .json(encoding: ModelRepository.IndexEntry(name: name, version: String(model.version), state: .ready))
            }
        }
        router.post("/v2/repository/models/{name}/unload", precheck: precheck) { [self] request in
            try respond(request) {
                try authorize(request.head)
                let name = request.pathParameters["name"] ?? ""
                try repository.unload(name)
                logger.info("unloaded model \(name) on request")
                return try .json(encoding: ModelRepository.IndexEntry(name: name, state: .unavailable))
            }
        }
    }

    /// Runs slow, blocking work on Dispatch's global queue, so the handler's worker thread stays free for inference.
    static func offWorkers<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func authorize(_ head: HTTPRequestHead) throws(HTTPError) {
        guard Self.isAuthorized(authorization: head.headers["Authorization"], token: token) else {
            throw HTTPError(.unauthorized, "the control API needs 'Authorization: Bearer <admin token>'",
                            headers: ["WWW-Authenticate": "Bearer"])
        }
    }

    /// Whether an `Authorization` value (HTTP header or gRPC metadata) is `Bearer <token>`.
    static func isAuthorized(authorization: String?, token: String) -> Bool {
        let given = authorization.flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        return constantTimeEqual(Array(given.utf8), Array(token.utf8))
    }

    /// Compares without returning early, so response time does not leak how much of a guess was right.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
