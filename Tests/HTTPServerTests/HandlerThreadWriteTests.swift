import Foundation
import Glibc
@testable import HTTPServer
import Logging
import XCTest

/// A handler's thread writes its response itself, under the connection's lock, instead of handing it back to the
/// event loop; the loop keeps reading, timing out and finishing writes that could not be done at once.
final class HandlerThreadWriteTests: XCTestCase {
    /// A request/response exchange leaves the socket's epoll entry alone: reading stays registered while the handler
    /// runs (nothing fires meanwhile), so neither suspending nor resuming it calls epoll. The old loop narrowed the entry
    /// after the very event it had just handled, then widened it again: two calls per request.
    func testKeepAliveExchangesMakeNoEpollCalls() throws {
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/hello") { _ in .text(.ok, "hello") }
            router.getImmediate("/now") { _ in .text(.ok, "now") }
        }
        let client = try TestClient(port: server.port)
        for index in 0..<20 {
            client.send("GET \(index % 2 == 0 ? "/hello" : "/now") HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(client.readResponse()?.status, 200)
        }
        let connections = server.context.openConnectionList
        XCTAssertEqual(connections.count, 1)
        // One call registers the socket; 20 exchanges add none.
        XCTAssertEqual(connections.first?.epollChanges, 1)
    }

    /// A request that arrives while the previous one's handler runs makes epoll report an event nobody wants (reading
    /// is suspended), which takes the socket out of the set. The handler's thread, finishing the answer off the loop,
    /// must put reading back so epoll reports the waiting request to the loop; pipelined answers keep their order.
    func testRequestSentDuringAHandlerIsReadAfterItsThreadAnswers() throws {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/held") { _ in
                started.signal()
                await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        release.wait()
                        continuation.resume()
                    }
                }
                return .text(.ok, "held")
            }
            router.get("/hello") { _ in .text(.ok, "hello") }
            router.getImmediate("/now") { _ in .text(.ok, "now") }
        }
        let client = try TestClient(port: server.port)
        client.send("GET /held HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(started.wait(timeout: .now() + 3), .success)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        // Let the loop see the unwanted event before the handler finishes (without it the test passes trivially).
        let connection = try XCTUnwrap(server.context.openConnectionList.first)
        let deadline = Date().addingTimeInterval(3)
        while connection.epollChanges < 2 && Date() < deadline { usleep(1000) }
        XCTAssertEqual(connection.epollChanges, 2, "the request sent during the handler should have taken the socket out of epoll")
        release.signal()
        XCTAssertEqual(client.readResponse()?.text, "held")
        XCTAssertEqual(client.readResponse()?.text, "hello")
        XCTAssertEqual(client.readResponse()?.text, "now")
        XCTAssertEqual(client.readResponse()?.text, "hello")
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "hello", "keep-alive after the pipelined answers")
    }

    /// An answer larger than the socket takes at once: the handler's thread writes what fits, the loop writes the rest
    /// as the client reads, and the connection then serves the next request.
    func testPartialWriteFromHandlerThreadIsFinishedByTheLoop() throws {
        let body = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/big") { _ in HTTPResponse(status: .ok, headers: ["Content-Type": "application/octet-stream"], body: .bytes(body)) }
            router.get("/hello") { _ in .text(.ok, "hello") }
        }
        let client = try TestClient(port: server.port, timeout: 5)
        client.setReceiveBuffer(32 * 1024)
        client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        // Reading nothing for a moment leaves the rest of the answer waiting for the socket to drain.
        usleep(100_000)
        let response = try XCTUnwrap(client.readResponse())
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.body.count, body.count)
        XCTAssertTrue(response.body == body, "the answer arrived altered")
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "hello")
    }

    /// After an answer written off the loop the connection still times out when idle (its timer is armed from the
    /// handler's thread), and `Connection: close` still closes.
    func testTimeoutsAndCloseAfterHandlerThreadAnswer() throws {
        var limits = HTTPServerLimits.testDefaults
        // Shorter than the handling peer check (250 ms) the loop was last woken for.
        limits.keepAliveIdleTimeout = .milliseconds(100)
        let server = try makeTestServer(limits: limits) { router in
            router.get("/hello") { _ in .text(.ok, "hello") }
        }
        let idle = try TestClient(port: server.port)
        idle.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(idle.readResponse()?.text, "hello")
        XCTAssertTrue(idle.waitForClose(), "an idle connection outlived its keep-alive timeout")

        let closing = try TestClient(port: server.port)
        closing.send("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let response = try XCTUnwrap(closing.readResponse())
        XCTAssertEqual(response.headers["Connection"], "close")
        XCTAssertTrue(closing.waitForClose())
    }

    /// A handler thread with other jobs waiting leaves the write to the loop: answers stay whole and in order, and the
    /// connection stays usable, as when the handler's thread writes.
    func testAnswersLeftToTheLoopWhenTheHandlerExecutorHasWorkWaiting() throws {
        var router = Router()
        router.get("/hello") { _ in .text(.ok, "hello") }
        router.get("/big") { _ in HTTPResponse(status: .ok, body: .bytes([UInt8](repeating: 7, count: 1 << 20))) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, limits: .testDefaults,
                                                         handlerExecutor: AlwaysBusyExecutor()), router: router, logger: logger)
        let client = try TestClient(port: server.port)
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "hello")
        XCTAssertEqual(client.readResponse()?.body.count, 1 << 20)
        XCTAssertEqual(client.readResponse()?.text, "hello")
        client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(client.readResponse()?.text, "hello")
    }

    /// Access lines are written after the lock is let go, once per exchange: answered (200) or abandoned (499).
    func testAccessLinesForAnswersWrittenOffTheLoop() throws {
        let lines = Locked<[String]>([])
        let started = DispatchSemaphore(value: 0)
        var router = Router()
        router.get("/hello") { _ in .text(.ok, "hello") }
        router.get("/slow") { _ in
            started.signal()
            try? await Task.sleep(for: .seconds(5))
            return .text(.ok, "late")
        }
        let logger = Logger(label: "access") { _ in CapturingLogHandler(lines: lines) }
        let server = try HTTPServer(configuration: .init(host: "127.0.0.1", port: 0, limits: .testDefaults), router: router, logger: logger)
        let client = try TestClient(port: server.port)
        for _ in 0..<3 {
            client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(client.readResponse()?.text, "hello")
        }
        let leaving = try TestClient(port: server.port)
        leaving.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(started.wait(timeout: .now() + 3), .success)
        Glibc.shutdown(leaving.fd, Int32(SHUT_RDWR))
        let deadline = Date().addingTimeInterval(3)
        while lines.withLock({ $0.count }) < 4 && Date() < deadline { usleep(5000) }
        let logged = lines.withLock { $0 }
        XCTAssertEqual(logged.filter { $0.hasPrefix("GET /hello 200 5B ") }.count, 3, "\(logged)")
        XCTAssertEqual(logged.filter { $0.hasPrefix("GET /slow 499 0B ") }.count, 1, "\(logged)")
        XCTAssertEqual(logged.count, 4, "\(logged)")
    }
}

/// Runs handler jobs on a queue of its own and always reports work waiting, so every answer is left to the loop.
private final class AlwaysBusyExecutor: TaskExecutor, WaitingWorkReporting, @unchecked Sendable {
    private let queue = DispatchQueue(label: "always-busy")
    var hasWaitingWork: Bool { true }
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Keeps every message logged at info or above.
private struct CapturingLogHandler: LogHandler {
    let lines: Locked<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { lines.withLock { $0.append("\(event.message)") } }
}
