import XCTest
@testable import Engine

/// Joining and splitting along a batch axis other than 0, as the scheduler does for an LSTM's state [layers, batch, hidden].
final class TensorBatchingTests: XCTestCase {
    func testConcatenateAndSliceAlongAxisOneRoundTrip() throws {
        // [2, 1, 3] and [2, 2, 3]: element (l, b, h) = 100·l + 10·b + h, batch numbered across both parts.
        let a = Tensor(shape: [2, 1, 3], floats: [0, 1, 2, 100, 101, 102])
        let b = Tensor(shape: [2, 2, 3], floats: [10, 11, 12, 20, 21, 22, 110, 111, 112, 120, 121, 122])
        let joined = try Tensor.concatenate([a, b], axis: 1)
        XCTAssertEqual(joined.shape, [2, 3, 3])
        XCTAssertEqual(joined.floatArray(), [0, 1, 2, 10, 11, 12, 20, 21, 22, 100, 101, 102, 110, 111, 112, 120, 121, 122])
        XCTAssertEqual(joined.slice(0..<1, axis: 1).floatArray(), a.floatArray())
        XCTAssertEqual(joined.slice(1..<3, axis: 1).floatArray(), b.floatArray())
        XCTAssertEqual(joined.slice(2..<3, axis: 1).shape, [2, 1, 3])
        XCTAssertEqual(try Tensor.concatenate([a, b], axis: 1).slice(0..<0, axis: 1).shape, [2, 0, 3])
    }

    func testConcatenateRefusesMismatchedOtherDimensionsAndBadAxes() {
        let a = Tensor.zeros(.float, shape: [2, 1, 3]), b = Tensor.zeros(.float, shape: [3, 1, 3])
        XCTAssertThrowsError(try Tensor.concatenate([a, b], axis: 1), "axis 0 differs: not joinable along 1")
        XCTAssertNoThrow(try Tensor.concatenate([a, b], axis: 0))
        XCTAssertThrowsError(try Tensor.concatenate([a, a], axis: 3))
        XCTAssertThrowsError(try Tensor.concatenate([a, a], axis: -1))
        XCTAssertThrowsError(try Tensor.concatenate([a, Tensor.zeros(.int64, shape: [2, 1, 3])], axis: 1))
    }
}
