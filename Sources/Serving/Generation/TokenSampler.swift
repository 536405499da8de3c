import Foundation

/// Picks the next token from logits: temperature, then top-k, then top-p (nucleus); temperature 0 is greedy. A pure
/// function of the logits, the parameters and the generator's state, so a stream samples the same token whether its
/// logits came from a run of its own or from its row of a batch (the engine computes rows independently of the
/// batch size: `RowInvariantGEMMTests`).
struct TokenSampler: Sendable {
    let temperature: Double
    let topK: Int
    let topP: Double

    init(_ request: GenerateRequest) {
        temperature = request.temperature
        topK = request.topK
        topP = request.topP
    }

    init(temperature: Double, topK: Int, topP: Double) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    func sample(_ logits: [Float], vocabularySize: Int, _ random: inout SplitMix64) -> Int {
        let count = min(logits.count, vocabularySize)
        guard count > 0 else { return 0 }
        if temperature == 0 { return (0..<count).max { logits[$0] < logits[$1] } ?? 0 }
        var order = TokenRanking.best(logits, count: count, keep: topK > 0 ? min(topK, count) : count)
        let top = Double(logits[order[0]])
        var weights = order.map { exp((Double(logits[$0]) - top) / temperature) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        if topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count, cumulative < topP { cumulative += weights[keep]; keep += 1 }
            order = Array(order.prefix(keep))
            let kept = weights.prefix(keep).reduce(0, +)
            weights = weights.prefix(keep).map { $0 / kept }
        }
        var draw = random.nextUnit()
        for (token, weight) in zip(order, weights) {
            draw -= weight
            if draw < 0 { return token }
        }
        return order.last ?? 0
    }
}
