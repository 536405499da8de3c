import CHTTPShims
import Dispatch
import Foundation
import Glibc

/// What an event loop drives for a connection: its socket's readiness and its one timer. Called on the loop only.
protocol EventLoopClient: AnyObject {
    /// Which readiness the client wants reported now (`DS_EPOLL_READ`, `DS_EPOLL_WRITE`); others are dropped from
    /// the registration the first time they fire.
    var wantedEvents: UInt32 { get }
    func socketReadable()
    func socketWritable()
    /// When the client's timer runs out (nil: it has none).
    var timerDeadline: DispatchTime? { get }
    func timerExpired()
}

/// One thread on an epoll instance, running the connections given to it: their socket events, their timers, and
/// work other threads hand it (`execute`).
///
/// It replaces one Dispatch queue and three Dispatch sources per connection. On Linux a Dispatch source's handler is
/// handed from libdispatch's own epoll thread to a pool thread, so every request cost two thread wake-ups before any
/// of our code ran; here the thread that waits on epoll runs the handler itself. Everything a connection does happens
/// on its loop, one thing at a time, as it did on its serial queue.
///
/// Interest is changed lazily: suspending reads or writes only sets the connection's flag, and the registration is
/// narrowed the first time an unwanted event fires (in a request/response exchange it rarely does), so the common
/// path makes no epoll_ctl call. Level-triggered, so nothing is lost while a side is suspended; a socket that wants
/// nothing is taken out of epoll altogether, since a hang-up is reported whatever the interest and would spin.
///
/// Timers: each client has one deadline. The loop keeps the earliest deadline it was told of and, when it passes,
/// scans its clients once, so arming a timer (every request moves the idle deadline) costs a comparison, not a heap
/// operation, and a deadline moved later costs at most one spurious scan.
final class EventLoop: @unchecked Sendable {
    private let epoll: Int32
    private let wakeFD: Int32
    // Touched on the loop thread only.
    private var registrations: [UInt64: Registration] = [:]
    private var nextID: UInt64 = 1   // 0 tags the wake-up eventfd
    private var nextTimerCheck = UInt64.max
    /// Set by the loop thread itself before anyone can hand it work (see `init`).
    private var thread = pthread_t()
    private let pending = Locked<[@Sendable () -> Void]>([])
    /// One read buffer for all the loop's connections: a read's bytes are copied into the parser before the next.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    private struct Registration {
        let client: any EventLoopClient
        let fd: Int32
        /// What epoll reports now (0: not in epoll).
        var interest: UInt32
    }

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

    // MARK: on the loop

    /// Starts watching `fd` for reads; returns the id to pass back, or nil when epoll refuses (the caller closes).
    func register(_ client: any EventLoopClient, fd: Int32) -> UInt64? {
        let id = nextID
        nextID += 1
        let interest = client.wantedEvents
        if interest != 0 { guard ds_epoll_set(epoll, fd, 0, interest, id) == 0 else { return nil } }
        registrations[id] = Registration(client: client, fd: fd, interest: interest)
        return id
    }

    /// Stops watching; the caller closes the socket afterwards (never before: epoll would keep a closed file's entry
    /// while a duplicate of it lives).
    func deregister(_ id: UInt64) {
        guard let registration = registrations.removeValue(forKey: id) else { return }
        if registration.interest != 0 { _ = ds_epoll_remove(epoll, registration.fd) }
    }

    /// The client wants more than epoll reports now: widen the registration at once (narrowing waits for an unwanted
    /// event). False when epoll refused.
    func interestGrew(_ id: UInt64) -> Bool {
        guard var registration = registrations[id] else { return true }
        let wanted = registration.client.wantedEvents
        guard wanted & ~registration.interest != 0 else { return true }
        guard ds_epoll_set(epoll, registration.fd, registration.interest == 0 ? 0 : 1, wanted, id) == 0 else { return false }
        registration.interest = wanted
        registrations[id] = registration
        return true
    }

    /// A client's timer now runs out at `deadline` (or earlier than before): make sure the loop wakes for it.
    func timerArmed(_ deadline: DispatchTime) {
        nextTimerCheck = min(nextTimerCheck, deadline.uptimeNanoseconds)
    }

    private func run() {
        let capacity = 256
        let ids = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        let ready = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        while true {
            let count = ds_epoll_wait(epoll, ids, ready, Int32(capacity), waitMilliseconds())
            if count < 0 { continue }   // only EBADF/EFAULT/EINVAL, which our own descriptors can't give
            for index in 0..<Int(count) where ids[index] != 0 {
                dispatch(id: ids[index], ready: ready[index])
            }
            if count > 0, (0..<Int(count)).contains(where: { ids[$0] == 0 }) { ds_eventfd_drain(wakeFD) }
            runPending()
            checkTimers()
        }
    }

    private func dispatch(id: UInt64, ready: UInt32) {
        guard let client = registrations[id]?.client else { return }   // closed by an earlier event of this batch
        let read = UInt32(DS_EPOLL_READ), write = UInt32(DS_EPOLL_WRITE)
        if ready & read != 0, client.wantedEvents & read != 0 { client.socketReadable() }
        guard registrations[id] != nil else { return }
        if ready & write != 0, client.wantedEvents & write != 0 { client.socketWritable() }
        guard var registration = registrations[id] else { return }
        // An event nobody wanted: stop epoll reporting it (level-triggered, it would fire on every wait).
        let wanted = client.wantedEvents
        guard ready & ~wanted != 0, registration.interest & ~wanted != 0 else { return }
        if wanted == 0 {
            _ = ds_epoll_remove(epoll, registration.fd)
        } else if ds_epoll_set(epoll, registration.fd, registration.interest == 0 ? 0 : 1, wanted, id) != 0 {
            return   // keep the wider registration: a spurious event costs less than a lost one
        }
        registration.interest = wanted
        registrations[id] = registration
    }

    /// Runs what was queued before this turn; work queued meanwhile waits for the next turn, after the sockets.
    private func runPending() {
        let work = pending.withLock { queue in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        work.forEach { $0() }
    }

    /// 0 while work is queued, the time to the earliest timer, or -1 (none).
    private func waitMilliseconds() -> Int32 {
        if !pending.withLock({ $0.isEmpty }) { return 0 }
        guard nextTimerCheck != .max else { return -1 }
        let now = DispatchTime.now().uptimeNanoseconds
        guard nextTimerCheck > now else { return 0 }
        return Int32(clamping: (nextTimerCheck - now + 999_999) / 1_000_000)
    }

    private func checkTimers() {
        let now = DispatchTime.now()
        guard nextTimerCheck <= now.uptimeNanoseconds else { return }
        nextTimerCheck = .max
        var due: [UInt64] = []
        for (id, registration) in registrations {
            guard let deadline = registration.client.timerDeadline else { continue }
            if deadline <= now { due.append(id) } else { timerArmed(deadline) }
        }
        // A client fired may close another's connection (never today) or re-arm its own timer (timerArmed).
        for id in due { registrations[id]?.client.timerExpired() }
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
