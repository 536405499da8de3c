import Foundation
import HTTPServer

/// The one JSON encoder of the HTTP adapters: every answer body is an `Encodable` value, never text put together by
/// hand, so quoting and escaping are right by construction.
enum JSONAnswer {
    static func bytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        // The same bytes, fastest: answers on the hot path write themselves.
        if let writable = value as? any JSONWritable {
            var json = JSONWriter()
            writable.write(to: &json)
            return json.bytes
        }
        // The same bytes, faster; anything it doesn't handle (or an error) goes through Foundation, which decides.
        if let bytes = try? CompactJSONEncoder.encode(value) { return bytes }
        return try foundationBytes(value)
    }

    static func foundationBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
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
        HTTPResponse(status: status, headers: jsonHeaders, body: .bytes(try JSONAnswer.bytes(value)))
    }

    /// The same for an answer that writes itself, chosen at compile time: no dynamic cast to find `JSONWritable`.
    static func json<T: JSONWritable>(_ status: HTTPStatus = .ok, encoding value: T) -> HTTPResponse {
        var json = JSONWriter()
        value.write(to: &json)
        return HTTPResponse(status: status, headers: jsonHeaders, body: .bytes(json.bytes))
    }

    /// Made once and shared (copy on write): a header list built per answer cost two allocations.
    private static let jsonHeaders: HTTPHeaders = ["Content-Type": "application/json"]

    /// An answer that never changes (a liveness probe's), encoded once when the route is made rather than per request.
    /// Our answer types always encode; were one not to, the route answers 500 rather than trap.
    static func constantJSON<T: Encodable>(_ value: T) -> HTTPResponse {
        (try? .json(encoding: value)) ?? .json(.internalServerError, #"{"error":"internal error"}"#)
    }
}
