import Foundation
import Glibc

/// The IMF-fixdate for the `Date` header, formatted once per second rather than once per response.
enum HTTPDate {
    private static let cache = Locked<(second: Int, text: String)>((0, ""))

    static var now: String {
        let second = time(nil)
        return cache.withLock { cached in
            if cached.second != second {
                var t = second
                var parts = tm()
                gmtime_r(&t, &parts)
                var buffer = [CChar](repeating: 0, count: 40)
                let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
                cached = (second, String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            return cached.text
        }
    }
}

/// A value behind a lock, for the little state that is shared across threads.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
