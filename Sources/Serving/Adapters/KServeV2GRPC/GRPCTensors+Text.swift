import Foundation
import InferenceGRPC

extension GRPCTensors {
    /// A BYTES input of one element as UTF-8 text (a generation's prompt): in `contents.bytes_contents`, or raw as
    /// Triton serialises BYTES (a 4-byte little-endian length, then that many bytes; `rawCount` entries in all, of
    /// which this input may have only the one). Every length is checked; bad input is a `ServingError`.
    static func text(_ input: Inference_ModelInferRequest.InferInputTensor, raw: Data?, rawCount: Int) throws -> String {
        let label = "input '\(input.name.prefix(64))'"
        guard input.datatype == "BYTES" else {
            throw ServingError.invalidField(field: String(input.name.prefix(64)), expected: "a BYTES tensor", got: String(input.datatype.prefix(32)))
        }
        let (shape, count) = try checkedShape(input.shape, label: label)
        guard count == 1 else {
            throw ServingError.invalidField(field: String(input.name.prefix(64)), expected: "one element (shape [1])", got: "shape \(shape)")
        }
        let bytes: Data
        if let raw {
            guard rawCount == 1, !input.hasContents else {
                throw ServingError.badRequest("\(label) needs its bytes in contents or in one raw_input_contents entry, not both")
            }
            let body = raw.dropFirst(4)
            let length = raw.prefix(4).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard raw.count >= 4, length == UInt64(body.count) else {
                throw ServingError.badRequest("raw \(label) must be a 4-byte little-endian length and that many bytes (got \(raw.count) bytes)")
            }
            bytes = Data(body)
        } else {
            guard input.contents.bytesContents.count == 1 else {
                throw ServingError.badRequest("\(label) needs one value in contents.bytes_contents, got \(input.contents.bytesContents.count)")
            }
            bytes = input.contents.bytesContents[0]
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw ServingError.invalidField(field: String(input.name.prefix(64)), expected: "UTF-8 text", got: "\(bytes.count) bytes that are not")
        }
        return text
    }
}
