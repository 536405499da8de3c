import Foundation

/// An infer request's body: all JSON, or — with Triton's binary tensor extension — a JSON header of
/// `Inference-Header-Content-Length` bytes followed by raw tensor data.
enum InferenceBody {
    static let headerLengthField = "Inference-Header-Content-Length"

    /// The JSON part and the binary part (nil without the header) of `body`, given the header's value.
    static func split(_ body: [UInt8], headerLength field: String?) throws -> (json: ArraySlice<UInt8>, binary: ArraySlice<UInt8>?) {
        guard let length = try ClientNumber.integer(text: field, field: headerLengthField, in: 0...body.count) else {
            return (body[...], nil)
        }
        return (body[..<length], body[length...])
    }
}
