import Foundation
import HTTPServer
import Logging
@testable import Serving

/// The whole service over loopback on a free port, for tests that drive it with an outside client.
struct LiveService {
    let server: HTTPServer
    let scheduler: InferenceScheduler
    let repository: ModelRepository
    /// The service's step-batched generations.
    let batcher: StepBatcher
    let service: ServingService
    var port: Int { server.port }

    init(models: [String]? = nil, root: URL = SchedulerTests.models, adminToken: String? = nil, openAPISpec: String? = nil,
         settings: InferenceScheduler.Settings = .init(), onBatch: InferenceScheduler.BatchObserver? = nil) throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        repository = ModelRepository(root: root)
        if let models {
            for name in models { try repository.load(name) }
        } else {
            try repository.loadAll(logger: logger)
        }
        scheduler = InferenceScheduler(settings: settings, onBatch: onBatch)
        service = ServingService(repository: repository, scheduler: scheduler, metricsText: { "" },
                                     adminToken: adminToken, openAPISpec: openAPISpec, logger: logger)
        batcher = service.batcher
        var router = Router()
        service.register(on: &router)
        // As `deepserve serve` does: handlers run on the inference workers.
        server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, handlerExecutor: scheduler.taskExecutor),
                                router: router, logger: logger)
    }

    func stop() async {
        await server.shutdown()
        scheduler.shutdown()
    }

    /// Runs a command found on PATH to completion: its exit status and its stdout and stderr together.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
