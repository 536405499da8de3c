import CHTTPShims
import Glibc

/// What a non-blocking read or write did.
enum IOResult {
    case transferred(Int)
    /// Try again when the socket is readable (`wantsWrite` false) or writable (true).
    case wouldBlock(wantsWrite: Bool)
    /// The peer closed its side cleanly.
    case closed
    case failed
}

/// Bytes in and out of one connected socket, in the clear or through TLS: the connection code is the same either way.
/// Used only by the thread driving its connection (under the connection's lock).
protocol Transport: AnyObject {
    var fd: Int32 { get }
    /// False while a TLS handshake is still under way (it runs inside the first reads and writes).
    var handshakeComplete: Bool { get }
    /// Whether input may wait inside the transport, read off the socket but not yet handed to us (TLS records), where
    /// epoll can't report it.
    var buffersInput: Bool { get }
    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult
    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult
    /// Ends our sending side (TLS close_notify, then a TCP FIN) while still reading.
    func shutdownWrite()
    /// Frees the socket. Only called once it left its loop's epoll set.
    func close()
}

final class PlainTransport: Transport {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    var handshakeComplete: Bool { true }
    var buffersInput: Bool { false }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        let n = Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
        if n > 0 { return .transferred(n) }
        if n == 0 { return .closed }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock(wantsWrite: false) : .failed
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        // MSG_NOSIGNAL: a peer that went away gives EPIPE, not a process-killing SIGPIPE.
        let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        if n >= 0 { return .transferred(n) }
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? .wouldBlock(wantsWrite: true) : .failed
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func close() { _ = Glibc.close(fd) }
}

final class TLSTransport: Transport {
    let fd: Int32
    private let session: UnsafeMutableRawPointer

    init?(fd: Int32, context: TLSContext) {
        guard let session = ds_tls_session_new(context.pointer, fd) else { return nil }
        self.fd = fd
        self.session = session
    }

    var handshakeComplete: Bool { ds_tls_handshake_done(session) == 1 }
    var buffersInput: Bool { true }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        map(ds_tls_read(session, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(min(buffer.count, Int(Int32.max)))))
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        map(ds_tls_write(session, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(min(bytes.count, 1 << 20))))
    }

    private func map(_ rc: Int32) -> IOResult {
        switch rc {
        case 1...: .transferred(Int(rc))
        case Int32(DS_TLS_CLOSED): .closed
        case Int32(DS_TLS_WANT_READ): .wouldBlock(wantsWrite: false)
        case Int32(DS_TLS_WANT_WRITE): .wouldBlock(wantsWrite: true)
        default: .failed
        }
    }

    func shutdownWrite() {
        ds_tls_shutdown(session)
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    func close() {
        ds_tls_session_free(session)
        _ = Glibc.close(fd)
    }
}
