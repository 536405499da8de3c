import Foundation
import HTTPServer
import Logging

/// Joins the model repository, the scheduler and the HTTP endpoints: what `deepserve serve` runs.
public final class ServingService: Sendable {
    public static let version = "0.1.0"

    public let repository: ModelRepository
    public let scheduler: InferenceScheduler

    public init(repository: ModelRepository, scheduler: InferenceScheduler) {
        self.repository = repository
        self.scheduler = scheduler
    }

    /// Adds every serving route (health, KServe V2, task endpoints) to `router`.
    public func register(on router: inout Router) {
        router.get("/health/live") { _ in .json(.ok, #"{"status":"live"}"#) }
        router.get("/health/ready") { [repository] _ in
            repository.isReady
                ? .json(.ok, #"{"status":"ready"}"#)
                : .json(.serviceUnavailable, #"{"status":"loading","failed":\#(repository.loadFailures.count)}"#)
        }
        KServeRoutes(repository: repository, scheduler: scheduler).register(on: &router)
        TextGenerationRoutes(repository: repository, scheduler: scheduler).register(on: &router)
    }
}
