/// The generate answers, encoded by `JSONAnswer` like every other answer: the whole generation (the plain answer,
/// and the `done` event of a stream), one streamed token, and a stream's `error` event.
enum GenerateAnswers {
    struct Finished: Encodable {
        let model: String
        let version: Int
        let text: String
        let tokens: Int
        let finish_reason: String
        /// Prompt characters the vocabulary lacks (read as spaces).
        let unknown_prompt_characters: Int

        init(_ result: GenerationResult, model: LoadedModel) {
            self.model = model.name
            version = model.version
            text = result.text
            tokens = result.tokens
            finish_reason = result.finishReason
            unknown_prompt_characters = result.skipped
        }
    }

    struct Token: Encodable {
        let token: String
    }

    struct Failure: Encodable {
        let error: String
    }
}

/// One Server-Sent Event: an optional `event:` line and a `data:` line holding `value` as JSON (`JSONAnswer`; JSON
/// escapes every newline, so the data is one line), then the blank line that ends it.
enum ServerSentEvent {
    static func bytes<T: Encodable>(_ value: T, event: String? = nil) throws -> [UInt8] {
        Array((event.map { "event: \($0)\n" } ?? "").utf8) + Array("data: ".utf8) + (try JSONAnswer.bytes(value)) + Array("\n\n".utf8)
    }
}
