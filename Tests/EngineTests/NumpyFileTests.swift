import Foundation
import XCTest
@testable import Engine

final class NumpyFileTests: XCTestCase {
    func testRoundTrip() throws {
        for tensor in [Tensor(shape: [2, 3], floats: [1, 2, 3, 4, 5, 6]), Tensor(shape: [4], int64s: [1, -2, 3, .max]),
                       Tensor(shape: [], floats: [7]), Tensor(shape: [0, 5], floats: [])] {
            let decoded = try NumpyFile.decode(NumpyFile.encode(tensor))
            XCTAssertEqual(decoded.shape, tensor.shape)
            XCTAssertEqual(decoded.dataType, tensor.dataType)
            XCTAssertEqual(decoded.data, tensor.data)
        }
    }

    func testReadsWhatNumpyWrites() throws {
        // np.save of np.arange(6, dtype=np.float32).reshape(2, 3), byte for byte.
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, 118, 0]
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        header += String(repeating: " ", count: 118 - header.utf8.count - 1) + "\n"
        bytes += Array(header.utf8)
        bytes += [Float(0), 1, 2, 3, 4, 5].withUnsafeBytes { Array($0) }
        let tensor = try NumpyFile.decode(Data(bytes))
        XCTAssertEqual(tensor.shape, [2, 3])
        XCTAssertEqual(tensor.floatArray(), [0, 1, 2, 3, 4, 5])
    }

    func testRejectsBrokenFiles() throws {
        let good = NumpyFile.encode(Tensor(shape: [2, 2], floats: [1, 2, 3, 4]))
        XCTAssertThrowsError(try NumpyFile.decode(Data("not numpy".utf8)))
        XCTAssertThrowsError(try NumpyFile.decode(good.prefix(good.count - 1)))
        XCTAssertThrowsError(try NumpyFile.decode(good.prefix(20)))
        let fortran = String(decoding: good, as: UTF8.self).replacingOccurrences(of: "False", with: "True ")
        XCTAssertThrowsError(try NumpyFile.decode(Data(fortran.utf8).prefix(good.count)))
        let text = String(decoding: good.prefix(80), as: UTF8.self).replacingOccurrences(of: "<f4", with: "<c8")
        XCTAssertThrowsError(try NumpyFile.decode(Data(text.utf8) + good.dropFirst(80)))
    }
}
