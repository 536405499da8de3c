import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `deepserve healthcheck`: exits 0 when the server answers 200 on its readiness probe, else 1 — for
/// container HEALTHCHECKs, with no curl in the image.
struct Healthcheck: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Exit 0 if the server's readiness probe answers 200, else 1.")

    @Option(help: "The probe to ask (plain HTTP).")
    var url = "http://127.0.0.1:\(ProcessInfo.processInfo.environment["DEEPSERVE_PORT"] ?? "8080")/health/ready"

    @Option(help: "Seconds to wait for the answer.")
    var timeout = 3.0

    func run() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be in (0, 3600] seconds") }
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else {
            throw ValidationError("--url must be an http:// URL, got \(url)")
        }
        let port = components.port ?? 80
        let path = components.path.isEmpty ? "/" : components.path
        let status = try? Self.status(host: host, port: port, path: path, timeout: timeout)
        print(status.map { "\(url): \($0)" } ?? "\(url): no answer")
        throw ExitCode(status == 200 ? 0 : 1)
    }

    /// One GET over a plain socket; the status code of the answer.
    static func status(host: String, port: Int, path: String, timeout: Double) throws -> Int {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let address = result else { throw ExitCode(1) }
        defer { freeaddrinfo(result) }
        let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, 0)
        guard fd >= 0 else { throw ExitCode(1) }
        defer { close(fd) }
        var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else { throw ExitCode(1) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { throw ExitCode(1) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count > 12 else { throw ExitCode(1) }
        let line = String(decoding: buffer[..<count], as: UTF8.self)
        guard line.hasPrefix("HTTP/1."), let code = Int(line.dropFirst(9).prefix(3)) else { throw ExitCode(1) }
        return code
    }
}
