// libFuzzer entry for a model's config.json: it decodes (with its image preprocessing) or is refused with an error;
// nothing traps, whatever the numbers in it.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let config = try? ModelConfig.decode(bytes) else { return 0 }
    _ = config.batching?.maxBatchSize
    if let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any], let preprocessing = object["preprocessing"],
       let encoded = try? JSONSerialization.data(withJSONObject: preprocessing),
       let decoded = try? JSONDecoder().decode(ImagePreprocessing.self, from: encoded) {
        precondition(decoded.width > 0 && decoded.height > 0 && decoded.channels > 0, "preprocessing sizes must be positive")
    }
    return 0
}
