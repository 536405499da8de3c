// libFuzzer entry for a model's config.json: it decodes (with its image preprocessing) or is refused with an error;
// nothing traps, whatever the numbers in it.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let config: ModelConfig
    do { config = try ModelConfig.decode(bytes) } catch is ConfigError { return 0 } catch {
        preconditionFailure("config decoding threw something other than a ConfigError: \(error)")
    }
    if let policy = config.versionPolicy, let versions = try? policy.select(from: [1, 2, 3, 7]) {
        precondition(!versions.isEmpty && versions == versions.sorted(by: >), "selected versions \(versions)")
    }
    if let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any], let preprocessing = object["preprocessing"],
       let encoded = try? JSONSerialization.data(withJSONObject: preprocessing),
       let decoded = try? JSONDecoder().decode(ImagePreprocessing.self, from: encoded) {
        let sides = 1...ImagePreprocessing.maxSide
        precondition(sides.contains(decoded.width) && sides.contains(decoded.height), "preprocessing size out of range")
        precondition(decoded.channels == 1 || decoded.channels == 3, "channels")
        // A decoded preprocessing must be usable: a tiny image through it gives exactly its tensor size.
        let tensor = decoded.tensor(from: Image(width: 2, height: 2, channels: 1))
        precondition(tensor.count == decoded.width * decoded.height * decoded.channels, "tensor size")
    }
    return 0
}
