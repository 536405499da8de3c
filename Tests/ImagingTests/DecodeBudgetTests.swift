import Foundation
import XCTest
@testable import Imaging

/// One budget shared by the images of a request: the images past it are refused before they are decoded.
final class DecodeBudgetTests: XCTestCase {
    func testImagesPastTheBudgetAreRefused() {
        let file = BombFiles.palette(width: 4096, height: 1024)   // 12.6 MB decoded from about 600 bytes
        let outputBytes = 4096 * 1024 * 3
        let budget = DecodeBudget(limit: 32 << 20)
        var decoded = 0, refused = 0
        for index in 0..<10 {
            let before = budget.used
            do {
                _ = try Image.decode(file, budget: budget)
                decoded += 1
            } catch .overBudget(let needed, let used, let limit) {
                refused += 1
                XCTAssertEqual(used, before, "image \(index): nothing more charged")
                XCTAssertEqual(limit, 32 << 20)
                XCTAssertGreaterThan(needed, 0)
                XCTAssertEqual(budget.used, before, "image \(index): a refused image allocates nothing")
            } catch {
                XCTFail("image \(index): \(error)")
            }
        }
        XCTAssertEqual(decoded, 2)
        XCTAssertEqual(refused, 8)
        XCTAssertLessThanOrEqual(budget.used, 32 << 20)
        XCTAssertGreaterThanOrEqual(budget.used, 2 * outputBytes)
    }

    func testEachDecodeWithoutABudgetGetsItsOwn() throws {
        let file = BombFiles.palette(width: 4096, height: 1024)
        let limits = ImageLimits(maxDecodedBytes: 16 << 20)
        for _ in 0..<3 { XCTAssertNoThrow(try Image.decode(file, limits: limits)) }
        XCTAssertThrowsError(try Image.decode(file, limits: ImageLimits(maxDecodedBytes: 8 << 20))) { error in
            guard case .overBudget? = error as? ImageError else { return XCTFail("\(error)") }
        }
    }

    func testChargesAreCheckedForOverflow() {
        let budget = DecodeBudget(limit: .max)
        XCTAssertNoThrow(try budget.charge(.max - 1))
        XCTAssertThrowsError(try budget.charge(2))
        XCTAssertThrowsError(try budget.charge(-1))
        XCTAssertThrowsError(try DecodeBudget(limit: .max).charge(.max / 2, times: 3))
        XCTAssertTrue("\(ImageError.overBudget(needed: 5, used: 7, limit: 10))".contains("10 bytes in all"))
    }
}
