import CKernels
import XCTest
@testable import Engine

/// `ds_igemm` (AVX-512 VNNI or AVX2, and the portable C) against the plain Swift product of the
/// widened operands: int32 results must be equal bit for bit, for every signedness, with and
/// without zero points, on edge sizes around the kernels' tiles (6 rows; 16/32 columns; K in
/// groups of 2/4).
final class IntegerGEMMTests: XCTestCase {
    override func tearDown() { ds_force_portable(0) }

    func testIntegerGEMMMatchesSwiftReference() {
        let sizes = [1, 2, 4, 5, 6, 7, 15, 16, 17, 31, 32, 33, 64, 65, 100]
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for trial in 0..<160 {
            let m = sizes.randomElement(using: &generator)!, n = sizes.randomElement(using: &generator)!
            let k = sizes.randomElement(using: &generator)!
            let aSigned = trial % 2 == 1, bSigned = (trial / 2) % 2 == 1, withZeros = (trial / 4) % 2 == 1
            let a = (0..<(m * k)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let b = (0..<(k * n)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            func value(_ byte: UInt8, _ signed: Bool) -> Int32 { signed ? Int32(Int8(bitPattern: byte)) : Int32(byte) }
            let rowZeros = withZeros ? (0..<m).map { _ in value(UInt8.random(in: 0...255, using: &generator), aSigned) } : []
            let columnZeros = withZeros ? (0..<n).map { _ in value(UInt8.random(in: 0...255, using: &generator), bSigned) } : []
            let wa = (0..<(m * k)).map { value(a[$0], aSigned) - (withZeros ? rowZeros[$0 / k] : 0) }
            let wb = (0..<(k * n)).map { value(b[$0], bSigned) - (withZeros ? columnZeros[$0 % n] : 0) }
            var expected = [Int32](repeating: 0, count: m * n)
            wa.withUnsafeBufferPointer { pa in
                wb.withUnsafeBufferPointer { pb in
                    expected.withUnsafeMutableBufferPointer { pc in
                        IntegerProduct.multiply(pa.baseAddress!, pb.baseAddress!, into: pc.baseAddress!, m: m, n: n, k: k)
                    }
                }
            }
            for portable in [false, true] {
                ds_force_portable(portable ? 1 : 0)
                let isa = String(cString: ds_igemm_isa())
                var actual = [Int32](repeating: -1, count: m * n)
                rowZeros.withUnsafeBufferPointer { rz in
                    columnZeros.withUnsafeBufferPointer { cz in
                        ds_igemm(m, n, k, a, k, aSigned ? 1 : 0, withZeros ? rz.baseAddress : nil,
                                 b, n, bSigned ? 1 : 0, withZeros ? cz.baseAddress : nil, &actual, n)
                    }
                }
                XCTAssertEqual(actual, expected, "\(isa): \(m)×\(k) · \(k)×\(n), A \(aSigned ? "s8" : "u8"), B \(bSigned ? "s8" : "u8"), zero points \(withZeros)")
                checked += 1
            }
        }
        ds_force_portable(0)
        print("ds_igemm (\(String(cString: ds_igemm_isa()))) matched the Swift reference on \(checked) products")
    }
}
