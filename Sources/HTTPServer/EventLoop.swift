import CHTTPShims
import Dispatch
import Foundation
import Glibc

/// What an event loop drives for a connection: its socket's readiness and its one timer. Called on the loop only; the
/// client guards its own state (another thread may be driving it at the same moment, see `Connection`).
protocol EventLoopClient: AnyObject {
    /// epoll reported the socket ready (`DS_EPOLL_READ`, `DS_EPOLL_WRITE`). The client changes its own entry in the
    /// epoll set (`SocketInterest`).
    func socketReady(_ ready: UInt32)
    /// When the client's timer runs out (nil: it has none).
    var timerDeadline: DispatchTime? { get }
    func timerExpired()
}

/// One thread on an epoll instance, waiting for the sockets of the connections given to it, running their timers,
/// and work other threads hand it (`execute`).
///
/// It replaces one Dispatch queue and three Dispatch sources per connection. On Linux a Dispatch source's handler is
/// handed from libdispatch's own epoll thread to a pool thread, so every request cost two thread wake-ups before any
/// of our code ran; here the thread that waits on epoll runs the handler itself. The loop is where a connection reads
/// (its read buffer is the loop's); a connection's other work may also run on the thread that finished its handler
/// (see `Connection`), so the entry points here that other threads use (`execute`, `timerArmed`, and epoll through
/// `SocketInterest`) are safe from any thread.
///
/// Timers: each client has one deadline. The loop keeps the earliest deadline it was told of and, when it passes,
/// scans its clients once, so arming a timer (every request moves the idle deadline) costs a comparison, not a heap
/// operation, and a deadline moved later costs at most one spurious scan.
final class EventLoop: @unchecked Sendable {
    private let epoll: Int32
    private let wakeFD: Int32
    // Touched on the loop thread only.
    private var clients: [UInt64: any EventLoopClient] = [:]
    private var nextID: UInt64 = 1   // 0 tags the wake-up eventfd
    /// The earliest deadline a client was armed with since the last scan (armed from any thread).
    private let nextTimerCheck = Locked(UInt64.max)
    /// Set by the loop thread itself before anyone can hand it work (see `init`).
    private var thread = pthread_t()
    private let pending = Locked<[@Sendable () -> Void]>([])
    /// One read buffer for all the loop's connections: a read's bytes are copied into the parser before the next.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    init(name: String) {
        epoll = ds_epoll_create()
        wakeFD = ds_eventfd()
        precondition(epoll >= 0 && wakeFD >= 0, "cannot create an event loop: \(String(cString: strerror(errno)))")
        precondition(ds_epoll_set(epoll, wakeFD, 0, UInt32(DS_EPOLL_READ), 0) == 0, "cannot watch the loop's eventfd")
        let started = DispatchSemaphore(value: 0)
        let body = Thread { [self] in
            thread = pthread_self()
            started.signal()
            run()
        }
        body.name = name
        body.start()
        started.wait()
    }

    var inLoop: Bool { pthread_equal(pthread_self(), thread) != 0 }

    /// Runs `work` on the loop, after what is already queued there. From any thread.
    func execute(_ work: @escaping @Sendable () -> Void) {
        let wasEmpty = pending.withLock { queue in
            queue.append(work)
            return queue.count == 1
        }
        // The loop looks at its queue before it waits again, so only work queued from elsewhere into an empty queue
        // needs to wake it.
        if wasEmpty && !inLoop { ds_eventfd_signal(wakeFD) }
    }

    /// A client's timer now runs out at `deadline` (or earlier than before): make sure the loop wakes for it. From any
    /// thread: one that isn't the loop wakes it when the deadline comes before the one it may be sleeping towards.
    func timerArmed(_ deadline: DispatchTime) {
        let lowered = nextTimerCheck.withLock { next in
            guard deadline.uptimeNanoseconds < next else { return false }
            next = deadline.uptimeNanoseconds
            return true
        }
        if lowered && !inLoop { ds_eventfd_signal(wakeFD) }
    }

    // MARK: on the loop

    /// Starts watching `fd` for `interest`; returns its entry in the epoll set, for the client to keep, or nil when
    /// epoll refuses (the caller closes). On the loop.
    func register(_ client: any EventLoopClient, fd: Int32, interest: UInt32) -> SocketInterest? {
        assert(inLoop)
        var entry = SocketInterest(epoll: epoll, fd: fd, id: nextID)
        guard entry.include(interest) else { return nil }
        clients[entry.id] = client
        nextID += 1
        return entry
    }

    /// Forgets a client whose socket already left the epoll set (`SocketInterest.remove`). On the loop.
    func deregister(_ id: UInt64) {
        assert(inLoop)
        clients[id] = nil
    }

    private func run() {
        let capacity = 256
        let ids = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        let ready = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        while true {
            let count = ds_epoll_wait(epoll, ids, ready, Int32(capacity), waitMilliseconds())
            if count < 0 { continue }   // only EBADF/EFAULT/EINVAL, which our own descriptors can't give
            for index in 0..<Int(count) where ids[index] != 0 {
                // Absent once deregistered (a connection closed meanwhile ignores its events itself).
                clients[ids[index]]?.socketReady(ready[index])
            }
            if count > 0, (0..<Int(count)).contains(where: { ids[$0] == 0 }) { ds_eventfd_drain(wakeFD) }
            runPending()
            checkTimers()
        }
    }

    /// Runs what was queued before this turn; work queued meanwhile waits for the next turn, after the sockets.
    private func runPending() {
        // Taken whole (the queue starts again from an empty array): the copy returned shares the queue's buffer, so
        // emptying the queue in place would allocate a new buffer on every turn of the loop, work or none.
        let work = pending.withLock { queue -> [@Sendable () -> Void] in
            guard !queue.isEmpty else { return [] }
            defer { queue = [] }
            return queue
        }
        work.forEach { $0() }
    }

    /// 0 while work is queued, the time to the earliest timer, or -1 (none).
    private func waitMilliseconds() -> Int32 {
        if !pending.withLock({ $0.isEmpty }) { return 0 }
        let nextTimerCheck = nextTimerCheck.withLock { $0 }
        guard nextTimerCheck != .max else { return -1 }
        let now = DispatchTime.now().uptimeNanoseconds
        guard nextTimerCheck > now else { return 0 }
        return Int32(clamping: (nextTimerCheck - now + 999_999) / 1_000_000)
    }

    private func checkTimers() {
        let now = DispatchTime.now()
        let due = nextTimerCheck.withLock { next in
            guard next <= now.uptimeNanoseconds else { return false }
            next = .max
            return true
        }
        guard due else { return }
        // A client re-armed by another thread during the scan lowers `nextTimerCheck` itself.
        var expired: [UInt64] = []
        for (id, client) in clients {
            guard let deadline = client.timerDeadline else { continue }
            if deadline <= now { expired.append(id) } else { timerArmed(deadline) }
        }
        // A client fired may close another's connection (never today) or re-arm its own timer (timerArmed).
        for id in expired { clients[id]?.timerExpired() }
    }
}

/// The loops connections are spread over, made on first use and kept for the process's life: one per core, or
/// `DEEPSERVE_EVENT_LOOPS` (1–256; anything else is ignored).
enum EventLoops {
    static let all: [EventLoop] = (0..<count(environment: ProcessInfo.processInfo.environment)).map {
        EventLoop(name: "http-loop-\($0)")
    }

    static func count(environment: [String: String]) -> Int {
        if let text = environment["DEEPSERVE_EVENT_LOOPS"], let n = Int(text), (1...256).contains(n) { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }
    private static let counter = Locked(0)

    /// The next loop in turn.
    static func next() -> EventLoop {
        let index = counter.withLock { value -> Int in
            value = (value + 1) % all.count
            return value
        }
        return all[index]
    }
}
