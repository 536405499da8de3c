// libFuzzer entry for KServe V2 infer bodies, JSON and Triton's binary framing: the input's first line is the value of
// Inference-Header-Content-Length (empty line: no header), the rest is the body. Every input decodes to a tensor whose
// bytes match its shape and datatype, binary bytes are all claimed, or the request is refused; nothing traps.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKServeV2(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let newline = input.firstIndex(of: 0x0A) else { return 0 }
    let headerValue = newline == 0 ? nil : String(decoding: input[..<newline], as: UTF8.self)
    let body = Array(input[(newline + 1)...])
    do {
        let (json, tail) = try InferenceBody.split(body, headerLength: headerValue)
        precondition(json.count + (tail?.count ?? 0) == body.count, "split lost bytes")
        let object = try JSONBody.object(bytes: json, contentType: nil)
        guard let inputs = object["inputs"] as? [Any] else { return 0 }
        var binary = BinaryTensorData(tail ?? [])
        var claimed = 0
        for item in inputs {
            let before = binary.remaining
            let (_, tensor) = try TensorJSON.decode(item, binary: &binary)
            claimed += before - binary.remaining
            var elements = 1
            for dim in tensor.shape {
                precondition(dim >= 0, "negative dimension")
                elements *= dim   // decode promised a product ≤ Int32.max, so this cannot overflow
            }
            precondition(elements <= TensorJSON.maxElements, "too many elements")
            precondition(tensor.data.count == elements * tensor.dataType.size, "bytes do not match shape \(tensor.shape)")
            _ = try JSONEncoder().encode(JSONTensorData(tensor: tensor))   // the answer side: non-finite values and all
        }
        precondition(claimed + binary.remaining == (tail?.count ?? 0), "binary bytes miscounted")
    } catch is ServingError {
        return 0
    } catch {
        preconditionFailure("a decoder threw something other than a ServingError: \(error)")
    }
    return 0
}
