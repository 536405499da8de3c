import Foundation

enum JSONBody {
    /// The body as a JSON object, or a 400/415 that says why not. The content type is not insisted on (curl -d sends
    /// form-urlencoded), but a body that is clearly something else is 415.
    static func object(bytes: ArraySlice<UInt8>, contentType: String?) throws -> [String: Any] {
        if let type = contentType?.lowercased(),
           ["image/", "audio/", "video/", "multipart/"].contains(where: { type.hasPrefix($0) }) {
            throw ServingError.unsupportedMediaType("expected application/json, got \(type)")
        }
        guard !bytes.isEmpty else { throw ServingError.badRequest("the request body is empty; send a JSON object") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw ServingError.badRequest("the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw ServingError.badRequest("the body must be a JSON object") }
        return object
    }
}
