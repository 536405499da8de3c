import Logging

/// What every connection of one server shares: routes, limits, logging, TLS, and the shutdown flag.
final class ServerContext: Sendable {
    let router: Router
    let limits: HTTPServerLimits
    let logger: Logger
    let tls: TLSContext?
    let compressResponses: Bool
    let cors: CORSPolicy?
    /// Where handler tasks run (nil: Swift's global concurrent executor).
    let handlerExecutor: (any TaskExecutor)?
    private let state = Locked<(connections: [ObjectIdentifier: Connection], shuttingDown: Bool, closedWaiters: [@Sendable () -> Void])>(([:], false, []))

    init(router: Router, limits: HTTPServerLimits, logger: Logger, tls: TLSContext?, compressResponses: Bool, cors: CORSPolicy?, handlerExecutor: (any TaskExecutor)?) {
        self.router = router
        self.limits = limits
        self.logger = logger
        self.tls = tls
        self.compressResponses = compressResponses
        self.cors = cors
        self.handlerExecutor = handlerExecutor
    }

    var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }
    var openConnections: Int { state.withLock { $0.connections.count } }
    /// The connections open now (for tests).
    var openConnectionList: [Connection] { state.withLock { Array($0.connections.values) } }

    /// Registers a connection unless the cap is reached or we are shutting down.
    func register(_ connection: Connection) -> Bool {
        state.withLock {
            guard !$0.shuttingDown, $0.connections.count < limits.maxConnections else { return false }
            $0.connections[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    func unregister(_ connection: Connection) {
        let waiters: [@Sendable () -> Void] = state.withLock { state in
            state.connections[ObjectIdentifier(connection)] = nil
            guard state.connections.isEmpty else { return [] }
            let waiters = state.closedWaiters
            state.closedWaiters = []
            return waiters
        }
        waiters.forEach { $0() }
    }

    /// Marks shutdown and returns the connections open now.
    func beginShutdown() -> [Connection] {
        state.withLock {
            $0.shuttingDown = true
            return Array($0.connections.values)
        }
    }

    /// Calls `done` once no connection is open (at once if none is).
    func whenAllClosed(_ done: @escaping @Sendable () -> Void) {
        let now: Bool = state.withLock {
            if $0.connections.isEmpty { return true }
            $0.closedWaiters.append(done)
            return false
        }
        if now { done() }
    }
}
