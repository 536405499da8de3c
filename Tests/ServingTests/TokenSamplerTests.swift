import XCTest
@testable import Serving

/// The sampler ranks its candidates without sorting the vocabulary (`TokenRanking`); every seed must still give the
/// tokens the sort gave, ties and odd values included, or a text would change from one release to the next.
final class TokenSamplerTests: XCTestCase {
    /// The ranking as it was: a stable sort of every index by descending logit, cut to `keep`.
    private static func sortedRanking(_ logits: [Float], count: Int, keep: Int) -> [Int] {
        Array(Array(0..<count).sorted { logits[$0] > logits[$1] }.prefix(keep))
    }

    /// The sampler as it was before `TokenRanking`, line for line.
    private static func referenceSample(_ logits: [Float], vocabularySize: Int, temperature: Double, topK: Int, topP: Double,
                                        _ random: inout SplitMix64) -> Int {
        let count = min(logits.count, vocabularySize)
        guard count > 0 else { return 0 }
        if temperature == 0 { return (0..<count).max { logits[$0] < logits[$1] } ?? 0 }
        var order = Array(0..<count).sorted { logits[$0] > logits[$1] }
        if topK > 0 { order = Array(order.prefix(topK)) }
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

    /// Logits of a few kinds: spread out, coarse (many exact ties), with signed zeros and infinities.
    private static func logits(_ kind: Int, count: Int, _ random: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in
            let unit = Float(random.nextUnit())
            switch kind {
            case 0: return unit * 20 - 10
            case 1: return Float(Int(unit * 5)) - 2   // five values: ties everywhere
            case 2: return [0.0, -0.0, 1, -1, .infinity, -.infinity][Int(unit * 6) % 6]
            default: return unit < 0.5 ? 3 : unit * 3
            }
        }
    }

    func testRankingMatchesTheStableSort() {
        var random = SplitMix64(seed: 11)
        for trial in 0..<2000 {
            let count = 1 + Int(random.next() % 100)
            let values = Self.logits(trial % 4, count: count + 3, &random)
            for keep in [1, 2, 5, 20, count - 1, count] where keep >= 1 && keep <= count {
                XCTAssertEqual(TokenRanking.best(values, count: count, keep: keep),
                               Self.sortedRanking(values, count: count, keep: keep), "trial \(trial), keep \(keep): \(values)")
            }
        }
        XCTAssertEqual(TokenRanking.best([1, 2, 3], count: 3, keep: 0), [])
    }

    func testRankingWithNaNIsTheSortsRanking() {
        let values: [Float] = [1, .nan, 3, 2, .nan, 3, -1]
        for keep in 1...values.count {
            XCTAssertEqual(TokenRanking.best(values, count: values.count, keep: keep),
                           Self.sortedRanking(values, count: values.count, keep: keep))
        }
    }

    func testSamplesTheTokensTheSortedSamplerDid() {
        var random = SplitMix64(seed: 5)
        let settings: [(Double, Int, Double)] = [(0.8, 20, 1), (1, 0, 1), (1.3, 0, 0.9), (0.5, 5, 0.5), (0, 0, 1), (0.7, 200, 0.95)]
        for trial in 0..<3000 {
            let values = Self.logits(trial % 4, count: 84, &random)
            let (temperature, topK, topP) = settings[trial % settings.count]
            let sampler = TokenSampler(temperature: temperature, topK: topK, topP: topP)
            let seed = random.next()
            var ours = SplitMix64(seed: seed), theirs = SplitMix64(seed: seed)
            for vocabulary in [84, 60] {
                XCTAssertEqual(sampler.sample(values, vocabularySize: vocabulary, &ours),
                               Self.referenceSample(values, vocabularySize: vocabulary, temperature: temperature, topK: topK,
                                                    topP: topP, &theirs),
                               "trial \(trial), T \(temperature), top_k \(topK), top_p \(topP), vocabulary \(vocabulary)")
            }
        }
    }
}
