import Foundation
import HTTPServer

/// The one JSON encoder of the HTTP adapters: every answer body is an `Encodable` value, never text put together by
/// hand, so quoting and escaping are right by construction.
enum JSONAnswer {
    static func bytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        // Sorted keys: Foundation on Linux otherwise writes an object's keys in hash order, different per run.
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        return Array(try encoder.encode(value))
    }
}

extension HTTPResponse {
    /// `value` as an `application/json` body. Our answer types hold strings, numbers (non-finite ones as null) and
    /// arrays of them, which always encode; were one not to, the handler's error path answers 500.
    static func json<T: Encodable>(_ status: HTTPStatus = .ok, encoding value: T) throws -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .bytes(try JSONAnswer.bytes(value)))
    }
}
