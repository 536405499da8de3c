import CHTTPShims
import Dispatch
import Glibc

/// Accepts connections on the listening sockets (one per address the host resolves to) and hands each to a new
/// `Connection`; past the connection cap it answers 503 and closes, so the backlog never fills with clients we won't
/// serve.
final class Listener: @unchecked Sendable {
    let port: Int
    private var sources: [DispatchSourceRead] = []
    private let context: ServerContext
    private static let refusal: [UInt8] = {
        let body = #"{"error":"too many connections"}"#
        return Array("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
    }()

    init(host: String, port: Int, context: ServerContext) throws(Socket.Error) {
        _ = Socket.ignoreSIGPIPE
        let (fds, port) = try Socket.listen(host: host, port: port)
        self.port = port
        self.context = context
        let queue = DispatchQueue(label: "http.listener")
        for fd in fds {
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
            source.setCancelHandler { Glibc.close(fd) }
            source.setEventHandler { [self] in acceptAll(fd) }
            source.activate()
            sources.append(source)
        }
    }

    private func acceptAll(_ fd: Int32) {
        while true {
            let client = ds_accept_nonblocking(fd)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // EAGAIN, or EMFILE: the source fires again when there is more to do
            }
            Socket.setNoDelay(client)
            let transport: Transport
            if let tls = context.tls {
                guard let session = TLSTransport(fd: client, context: tls) else { Glibc.close(client); continue }
                transport = session
            } else {
                transport = PlainTransport(fd: client)
            }
            let connection = Connection(fd: client, transport: transport, context: context)
            guard context.register(connection) else {
                if context.tls == nil {
                    _ = Self.refusal.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                }
                transport.close()
                continue
            }
            connection.start()
        }
    }

    /// Stops accepting; the sockets close in the cancel handlers.
    func stop() { sources.forEach { $0.cancel() } }
}
