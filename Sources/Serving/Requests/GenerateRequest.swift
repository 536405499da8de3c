import Foundation

/// A `generate` body: what to continue and how to sample.
struct GenerateRequest {
    var prompt: String
    var maxTokens: Int
    var temperature: Double
    var topK: Int
    var topP: Double
    var seed: UInt64
    var stop: [String]
    var stream: Bool

    /// The longest prompt accepted, in characters.
    static let maxPromptCharacters = 4096

    /// A generate body, every field checked (`ClientNumber`), unset fields from the model's `generation` defaults.
    init(_ body: [String: Any], defaults: ModelConfig.Generation?, accept: String?) throws {
        guard let prompt = body["prompt"] as? String else {
            throw ServingError.invalidField(field: "prompt", expected: "a string", got: body["prompt"].map(ClientNumber.describe) ?? "nothing")
        }
        guard prompt.count <= Self.maxPromptCharacters else {
            throw ServingError.badRequest("\"prompt\" is longer than \(Self.maxPromptCharacters) characters")
        }
        let limit = max(1, defaults?.maxTokensLimit ?? 4000)
        maxTokens = try ClientNumber.integer(body["max_tokens"], field: "max_tokens", in: 1...limit) ?? min(max(1, defaults?.maxTokens ?? 200), limit)
        // The model's defaults come from its config.json: kept inside the same ranges as a client's values.
        temperature = try ClientNumber.real(body["temperature"], field: "temperature", in: 0...5)
            ?? min(max(defaults?.temperature ?? 1, 0), 5)
        topK = try ClientNumber.integer(body["top_k"], field: "top_k", in: 0...Int(Int32.max)) ?? max(defaults?.topK ?? 0, 0)
        topP = try ClientNumber.real(body["top_p"], field: "top_p", in: 0...1, lowerOpen: true)
            ?? defaults?.topP.flatMap { $0 > 0 && $0 <= 1 ? $0 : nil } ?? 1
        seed = try ClientNumber.uint64(body["seed"], field: "seed") ?? UInt64.random(in: 0...UInt64.max)
        var stop: [String] = []
        if let value = body["stop"], !(value is NSNull) {
            if let text = value as? String { stop = [text] } else if let list = value as? [String], list.count <= 16 { stop = list } else {
                throw ServingError.invalidField(field: "stop", expected: "a string or a list of at most 16 strings", got: ClientNumber.describe(value))
            }
            guard stop.allSatisfy({ $0.count <= 256 }) else { throw ServingError.badRequest("each \"stop\" string may have at most 256 characters") }
        }
        self.prompt = prompt
        self.stop = stop.filter { !$0.isEmpty }
        stream = try ClientNumber.bool(body["stream"], field: "stream") ?? (accept?.contains("text/event-stream") ?? false)
    }
}
