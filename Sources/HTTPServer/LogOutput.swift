import Dispatch
import Glibc

/// Standard output for log lines, buffered. An access-log line per request written with its own write(2) costs a
/// system call per request — a fifth of the throughput of a trivial route. Lines gather here and go out when 64 KiB
/// have gathered, at most 100 ms after they were logged, at once for a warning or worse, and on `flush()` (the
/// server calls it when it stops). A crash can lose the last 100 ms of lines; nothing else is held back.
public final class LogOutput: @unchecked Sendable {
    public static let standardOutput = LogOutput(fd: STDOUT_FILENO)

    private let fd: Int32
    private let lock = Locked<(buffer: [UInt8], timerArmed: Bool)>(([], false))
    private let queue = DispatchQueue(label: "deepserve.log-output")
    private static let flushSize = 64 * 1024
    /// How long a line may wait for company.
    private let flushDelay: DispatchTimeInterval

    init(fd: Int32, flushDelay: DispatchTimeInterval = .milliseconds(100)) {
        self.fd = fd
        self.flushDelay = flushDelay
    }

    /// Appends one line (a newline is added); `urgent` writes it and everything before it now.
    func write(_ line: String, urgent: Bool) { write(line.utf8, urgent: urgent) }

    /// Appends one line given as UTF-8 bytes (a newline is added); `urgent` as above.
    func write<Line: Collection<UInt8>>(_ line: Line, urgent: Bool) {
        let (ready, armTimer): ([UInt8]?, Bool) = lock.withLock { state in
            state.buffer.append(contentsOf: line)
            state.buffer.append(0x0A)
            if urgent || state.buffer.count >= Self.flushSize {
                defer { state.buffer.removeAll(keepingCapacity: true) }
                return (state.buffer, false)
            }
            guard !state.timerArmed else { return (nil, false) }
            state.timerArmed = true
            return (nil, true)
        }
        if let ready { writeAll(ready) }
        if armTimer {
            queue.asyncAfter(deadline: .now() + flushDelay) { [self] in
                lock.withLock { $0.timerArmed = false }
                flush()
            }
        }
    }

    /// Writes out every line logged so far.
    public func flush() {
        let pending: [UInt8] = lock.withLock { state in
            defer { state.buffer.removeAll(keepingCapacity: true) }
            return state.buffer
        }
        writeAll(pending)
    }

    private func writeAll(_ bytes: [UInt8]) {
        // Written outside the lock; lines from two flushes may interleave only whole, as each flush is whole lines.
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
