import Foundation
import Glibc
@testable import HTTPServer
import XCTest

/// The connections' event loops: timers shared by the connections of one loop, work handed in from other threads, and
/// sockets that stop wanting events.
final class EventLoopTests: XCTestCase {
    func server() throws -> HTTPServer {
        try makeTestServer(limits: .testDefaults) { router in
            router.get("/hello") { _ in .text(.ok, "hello") }
            router.getImmediate("/now") { _ in .text(.ok, "now") }
        }
    }

    /// The loop wakes for the earliest deadline it was told of; connections that keep moving theirs later (busy ones)
    /// must not hold back the idle ones' timeouts on the same loop.
    func testIdleConnectionsTimeOutWhileOthersOnTheirLoopStayBusy() throws {
        let server = try server()
        // Round robin over the loops: with twice as many connections as loops, every loop holds a busy and an idle one.
        let count = 2 * EventLoops.all.count
        let clients = try (0..<(2 * count)).map { _ in try TestClient(port: server.port, timeout: 3) }
        for client in clients {
            client.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(client.readResponse()?.status, 200)
        }
        let busy = clients.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        let idle = clients.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        // The keep-alive timeout is 300 ms; keep the busy ones talking for three times that.
        let end = Date().addingTimeInterval(0.9)
        while Date() < end {
            for client in busy {
                client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
                XCTAssertEqual(client.readResponse()?.status, 200)
            }
            usleep(50_000)
        }
        for client in idle { XCTAssertTrue(client.waitForClose(), "an idle connection outlived its keep-alive timeout") }
        for client in busy {
            client.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(client.readResponse()?.status, 200, "a busy connection was closed")
        }
    }

    /// Work queued from many threads at once runs, each item once, in the order each thread queued it.
    func testExecuteFromManyThreadsRunsEverythingInOrder() {
        let loop = EventLoops.next()
        let threads = 8, perThread = 2000
        let seen = Locked([[Int]](repeating: [], count: threads))
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for item in 0..<perThread {
                loop.execute {
                    XCTAssertTrue(loop.inLoop)
                    let finished = seen.withLock { lists -> Bool in
                        lists[thread].append(item)
                        return lists.allSatisfy { $0.count == perThread }
                    }
                    if finished { done.signal() }
                }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        seen.withLock { lists in
            for list in lists { XCTAssertEqual(list, Array(0..<perThread)) }
        }
    }

    /// A client that hangs up while its connection wants no events (a handler is running) is noticed by the peer
    /// check, and the loop keeps serving others meanwhile (a hang-up is reported whatever the interest, so a loop
    /// that kept the socket in epoll would spin on it).
    func testHangUpWhileHandlerRunsIsNoticedAndLoopStaysResponsive() throws {
        let started = Locked(0)
        let cancelled = Locked(0)
        let server = try makeTestServer(limits: .testDefaults) { router in
            router.get("/slow") { _ in
                started.withLock { $0 += 1 }
                do { try await Task.sleep(for: .seconds(5)) } catch { cancelled.withLock { $0 += 1 } }
                return .text(.ok, "late")
            }
            router.getImmediate("/now") { _ in .text(.ok, "now") }
        }
        let leaving = try TestClient(port: server.port)
        leaving.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        while started.withLock({ $0 }) == 0 { usleep(5_000) }
        Glibc.shutdown(leaving.fd, Int32(SHUT_RDWR))
        for _ in 0..<20 {
            let other = try TestClient(port: server.port)
            other.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n")
            XCTAssertEqual(other.readResponse()?.text, "now")
        }
        let deadline = Date().addingTimeInterval(2)
        while cancelled.withLock({ $0 }) == 0 && Date() < deadline { usleep(10_000) }
        XCTAssertEqual(cancelled.withLock { $0 }, 1, "the handler of a client that hung up was not cancelled")
    }
}
