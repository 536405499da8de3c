// libFuzzer entry for the task endpoints' bodies: the first byte picks the decoder (generate, sample or classify, with
// model defaults or the content type varying with it too), the rest is the body. A body either decodes to values
// inside every documented range or is refused with a ServingError; nothing traps.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestBodies(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let body = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    do {
        if selector % 3 == 2 {
            let type = ["application/json", "multipart/form-data; boundary=Bx", "image/png", "text/plain"][Int(selector >> 2) & 3]
            let (images, single) = try ImagePayload.images(body: body, contentType: type)
            precondition((1...ImagePayload.maxImages).contains(images.count), "\(images.count) images")
            precondition(!single || images.count == 1, "a single answer for several images")
            return 0
        }
        let object = try JSONBody.object(bytes: body[...], contentType: selector & 0x80 == 0 ? nil : "application/json")
        if selector % 3 == 0 {
            var defaults = ModelConfig.Generation()
            defaults.maxTokensLimit = [nil, 1, 50, 4000][Int(selector >> 1) & 3]
            defaults.maxTokens = [nil, 0, 10, 1_000_000][Int(selector >> 3) & 3]
            defaults.topK = [nil, -5][Int(selector >> 5) & 1]
            defaults.temperature = [nil, -1][Int(selector >> 6) & 1]
            defaults.topP = [nil, 0][Int(selector >> 6) & 1]
            let request = try GenerateRequest(object, defaults: defaults, accept: nil)
            let limit = max(1, defaults.maxTokensLimit ?? 4000)
            precondition((1...limit).contains(request.maxTokens), "max_tokens \(request.maxTokens) outside 1...\(limit)")
            precondition((0...5).contains(request.temperature), "temperature \(request.temperature)")
            precondition(request.topP > 0 && request.topP <= 1, "top_p \(request.topP)")
            precondition(request.topK >= 0, "top_k \(request.topK)")
            precondition(request.prompt.count <= GenerateRequest.maxPromptCharacters, "prompt too long")
            precondition(request.stop.count <= 16 && !request.stop.contains(""), "stop strings")
        } else {
            let dimension = 1 + Int(selector >> 1) % 64
            let latents = try SampleRequest.latents(object, dimension: dimension)
            precondition((1...64).contains(latents.count), "\(latents.count) latents")
            precondition(latents.allSatisfy { $0.count == dimension && $0.allSatisfy(\.isFinite) }, "latent rows")
        }
    } catch is ServingError {
        return 0
    } catch {
        preconditionFailure("a decoder threw something other than a ServingError: \(error)")
    }
    return 0
}
