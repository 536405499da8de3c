import Foundation
import HTTPServer

extension HTTPRequest {
    /// The body as a JSON object (see `JSONBody`).
    var jsonObject: [String: Any] {
        get throws { try JSONBody.object(bytes: body[...], contentType: headers["Content-Type"]) }
    }

    /// The longest deadline a caller may ask for.
    static let maxDeadlineMilliseconds = 600_000

    /// The caller's deadline: `X-Deadline-Ms` header or `timeout_ms` query parameter (else the server default); a
    /// value that is not a whole number of milliseconds in 1...600000 is refused with a 400 naming it.
    func deadline() throws -> Duration? {
        let range = 1...Self.maxDeadlineMilliseconds
        if let header = try ClientNumber.integer(text: headers["X-Deadline-Ms"], field: "X-Deadline-Ms", in: range) {
            return .milliseconds(header)
        }
        return try ClientNumber.integer(text: query("timeout_ms"), field: "timeout_ms", in: range).map { .milliseconds($0) }
    }
}
