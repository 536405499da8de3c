import XCTest
@testable import Serving

/// The classify answer's top k (`ImageClassificationRoutes.highest`): the order a stable sort of every class by
/// descending score gives, cut to k — ties in class order — whether it comes from the insertion list (small k) or the
/// sort (large k).
final class TopScoresTests: XCTestCase {
    private func reference(_ k: Int, _ scores: [Double]) -> [Int] {
        Array(scores.indices.sorted { scores[$0] > scores[$1] }.prefix(k))
    }

    func testEveryKGivesTheStableSortsOrder() {
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<300 {
            let count = Int.random(in: 1...80, using: &generator)
            // Few distinct values, so ties are common.
            let scores = (0..<count).map { _ in Double(Int.random(in: 0...6, using: &generator)) / 7 }
            for k in [1, 2, 3, 5, count, count + 3, 31, 32, 33, 100] {
                XCTAssertEqual(ImageClassificationRoutes.highest(k, of: scores), reference(k, scores), "trial \(trial), k \(k), \(scores)")
            }
        }
    }

    func testTiesKeepClassOrderAndKIsCappedByTheClasses() {
        XCTAssertEqual(ImageClassificationRoutes.highest(3, of: [0.2, 0.5, 0.2, 0.5, 0.1]), [1, 3, 0])
        XCTAssertEqual(ImageClassificationRoutes.highest(10, of: [0.1, 0.9]), [1, 0])
        XCTAssertEqual(ImageClassificationRoutes.highest(1, of: [0.3, 0.3, 0.3]), [0])
    }
}
