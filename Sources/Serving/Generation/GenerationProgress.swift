/// One generation's text so far: the prompt as token ids, its own seeded generator and sampler, what it produced,
/// and when it is done (`max_tokens` or a stop string). Both ways of running steps (alone, `LoneGenerator`; shared,
/// `GenerationLane`) feed it logits and read its next token, so they answer alike.
struct GenerationProgress: Sendable {
    let vocabulary: [String]
    let promptIDs: [Int]
    /// Prompt characters the vocabulary lacks.
    let skipped: Int
    private let request: GenerateRequest
    private let sampler: TokenSampler
    private var random: SplitMix64
    private(set) var text = ""
    private(set) var produced = 0

    /// What one step did: the character it produced, and the token to feed next or why the generation ended.
    enum Outcome: Sendable {
        case next(token: Int)
        case finished(reason: String)
    }

    init(_ request: GenerateRequest, vocabulary: [String]) throws {
        let index = Dictionary(vocabulary.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        // Characters the vocabulary lacks are read as spaces, as the model card says (dropped if it has
        // no space either); the answer counts them.
        let space = index[" "]
        promptIDs = request.prompt.compactMap { index[String($0)] ?? space }
        skipped = request.prompt.filter { index[String($0)] == nil }.count
        guard !promptIDs.isEmpty else {
            throw ServingError.badRequest("the prompt has no character the model knows (its vocabulary has \(vocabulary.count))")
        }
        self.vocabulary = vocabulary
        self.request = request
        sampler = TokenSampler(request)
        random = SplitMix64(seed: request.seed)
    }

    /// Samples the next token from `logits` (the last position's) and appends its character.
    mutating func advance(_ logits: [Float]) -> (character: String, outcome: Outcome) {
        let token = sampler.sample(logits, vocabularySize: vocabulary.count, &random)
        let character = vocabulary[token]
        text += character
        produced += 1
        if let stop = request.stop.first(where: { text.hasSuffix($0) }) {
            text.removeLast(min(stop.count, text.count))
            return (character, .finished(reason: "stop"))
        }
        return (character, produced < request.maxTokens ? .next(token: token) : .finished(reason: "length"))
    }

    func result(finishReason: String) -> GenerationResult {
        GenerationResult(text: text, tokens: produced, finishReason: finishReason, skipped: skipped)
    }
}

/// A finished generation, as the answer (or the stream's `done` event) reports it.
struct GenerationResult: Sendable, Equatable {
    var text: String
    var tokens: Int
    var finishReason: String
    var skipped: Int
}
