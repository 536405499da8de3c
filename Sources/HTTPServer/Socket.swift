import Glibc

/// Socket set-up the listener needs: bind and listen, non-blocking, SIGPIPE off.
enum Socket {
    struct Error: Swift.Error, CustomStringConvertible {
        let description: String
        /// The errno behind it (0 when it isn't one).
        var code: Int32 = 0
        init(_ what: String, _ code: Int32 = errno) {
            description = "\(what): \(String(cString: strerror(code)))"
            self.code = code
        }
    }

    /// A peer that vanishes mid-write must not kill the process (exit 141): ignore SIGPIPE for all of it.
    static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Non-blocking listening sockets on every address `host` resolves to (`localhost` → ::1 and 127.0.0.1), all on one
    /// port: with port 0 the first bind picks it and the others take the same. An IPv6 socket also takes IPv4 (dual
    /// stack) only when the host resolved to no IPv4 address of its own, so the two never collide. An address the
    /// machine lacks (EADDRNOTAVAIL: ::1 with IPv6 off) is skipped if another one binds.
    static func listen(host: String, port: Int, backlog: Int32 = 1024) throws(Error) -> (fds: [Int32], port: Int) {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &list)
        guard rc == 0, list != nil else { throw Error("resolve \(host)", 0).with(String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        var addresses: [UnsafeMutablePointer<addrinfo>] = []
        var next = list
        while let entry = next {
            addresses.append(entry)
            next = entry.pointee.ai_next
        }
        let hasIPv4 = addresses.contains { $0.pointee.ai_family == AF_INET }
        var fds: [Int32] = []
        var boundPort = port
        var skipped: Error?
        for address in addresses {
            if boundPort != 0 { setPort(boundPort, in: address.pointee.ai_addr) }
            do throws(Error) {
                let fd = try listen(on: address.pointee, dualStack: !hasIPv4, backlog: backlog, label: "\(host):\(boundPort)")
                if boundPort == 0 { boundPort = Self.boundPort(fd) }
                fds.append(fd)
            } catch {
                guard error.code == EADDRNOTAVAIL || error.code == EAFNOSUPPORT else {
                    fds.forEach { _ = Glibc.close($0) }
                    throw error
                }
                skipped = error
            }
        }
        guard !fds.isEmpty else { throw skipped ?? Error("bind \(host):\(port)", EADDRNOTAVAIL) }
        return (fds, boundPort)
    }

    private static func listen(on address: addrinfo, dualStack: Bool, backlog: Int32, label: String) throws(Error) -> Int32 {
        let fd = socket(address.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Error("socket", errno) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if address.ai_family == AF_INET6 {
            var only: Int32 = dualStack ? 0 : 1
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &only, socklen_t(MemoryLayout<Int32>.size))
        }
        guard bind(fd, address.ai_addr, address.ai_addrlen) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Error("bind \(label)", code)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Error("listen", code)
        }
        return fd
    }

    private static func setPort(_ port: Int, in address: UnsafeMutablePointer<sockaddr>) {
        if Int32(address.pointee.sa_family) == AF_INET6 {
            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port = UInt16(port).bigEndian }
        } else {
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port = UInt16(port).bigEndian }
        }
    }

    static func boundPort(_ fd: Int32) -> Int {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        if Int32(storage.ss_family) == AF_INET6 {
            return withUnsafeBytes(of: storage) { Int(UInt16(bigEndian: $0.load(as: sockaddr_in6.self).sin6_port)) }
        }
        return withUnsafeBytes(of: storage) { Int(UInt16(bigEndian: $0.load(as: sockaddr_in.self).sin_port)) }
    }

    /// The peer's address as text, for logs.
    static func peerAddress(_ fd: Int32) -> String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        _ = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        return String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func setNoDelay(_ fd: Int32) {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }
}

extension Socket.Error {
    func with(_ detail: String) -> Socket.Error {
        var copy = self
        copy = Socket.Error(description: description.split(separator: ":").first.map(String.init)! + ": " + detail)
        return copy
    }
    init(description: String) { self.description = description }
}
