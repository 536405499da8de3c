import CHTTPShims

/// A socket's entry in its event loop's epoll set: which readiness epoll reports for it.
///
/// Owned by the socket's client, which changes it under its own lock from whichever thread drives it (epoll_ctl is
/// safe from any thread, so a worker that writes a response can resume reading without waking the loop).
///
/// Changed lazily: a client that stops wanting an event only stops handling it, and the entry is narrowed the first
/// time that event fires unwanted (in a request/response exchange it rarely does, so the common path makes no
/// epoll_ctl call). Level-triggered, so nothing is lost meanwhile; a socket that wants nothing leaves the set
/// altogether, since a hang-up is reported whatever the interest and would spin.
struct SocketInterest {
    let epoll: Int32
    let fd: Int32
    /// What epoll hands back with the socket's events: its client's key in the loop.
    let id: UInt64
    /// What epoll reports now (0: not in the set).
    private(set) var registered: UInt32 = 0
    /// epoll_ctl calls made (tests count them: the common path makes none).
    private(set) var changes = 0

    init(epoll: Int32, fd: Int32, id: UInt64) {
        self.epoll = epoll
        self.fd = fd
        self.id = id
    }

    /// Makes epoll report everything in `wanted` (at once: an event must not be missed). False when epoll refused.
    mutating func include(_ wanted: UInt32) -> Bool {
        guard wanted & ~registered != 0 else { return true }
        guard ds_epoll_set(epoll, fd, registered == 0 ? 0 : 1, wanted, id) == 0 else { return false }
        registered = wanted
        changes += 1
        return true
    }

    /// An event fired that the client did not want: stop epoll reporting it (level-triggered, it would fire on every
    /// wait). On failure the wider entry stays: a spurious event costs less than a lost one.
    mutating func narrow(to wanted: UInt32) {
        guard registered & ~wanted != 0 else { return }
        if wanted == 0 {
            remove()
        } else if ds_epoll_set(epoll, fd, 1, wanted, id) == 0 {
            registered = wanted
            changes += 1
        }
    }

    /// Takes the socket out of the set (before it is closed: epoll would keep a closed file's entry while a duplicate
    /// of it lives).
    mutating func remove() {
        guard registered != 0 else { return }
        _ = ds_epoll_remove(epoll, fd)
        registered = 0
        changes += 1
    }
}
