import Foundation
@testable import Serving
import XCTest

/// `CompactJSONEncoder` must write exactly what Foundation's `JSONEncoder` (sorted keys, unescaped slashes) writes:
/// clients and the README's examples see those bytes.
final class CompactJSONEncoderTests: XCTestCase {
    private func foundation<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONAnswer.foundationBytes(value), as: UTF8.self)
    }

    private func compact<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try CompactJSONEncoder.encode(value), as: UTF8.self)
    }

    private func assertSame<T: Encodable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try compact(value), try foundation(value), file: file, line: line)
    }

    struct Nested: Encodable {
        struct Inner: Encodable {
            let name: String
            let values: [Float]
            let missing: Int?
        }
        let z_last: Bool
        let A_upper: Int
        let a10: Double
        let a9: Double
        let a_b: String
        let ab: String
        let inner: [Inner]
        let empty: [String]
        let table: [String: [Int]]
        let optional: String?
    }

    func testAnswerShapesEncodeAsFoundationDoes() throws {
        let value = Nested(
            z_last: true, A_upper: -7, a10: 1.0, a9: 0.1 + 0.2, a_b: "slash / quote \" back \\ tab \t nl \n cr \r bell \u{07} é 😀",
            ab: "", inner: [.init(name: "x", values: [1, -0.5, 1e-8, 3.4028235e38, 0, -0.0, 123456.79], missing: nil),
                            .init(name: "y", values: [], missing: 3)],
            empty: [], table: ["b": [1, 2], "a": [], "B": [3], "a1": [4], "a01": [5]], optional: nil)
        try assertSame(value)
        try assertSame(["status": "live"])
        try assertSame([1e20, 1e-300, 5e-324, 1.7976931348623157e308, 2.0, -2.5, 0.9999999822383866])
        try assertSame([Float(1e-45), Float(16777216), Float(0.1)])
        try assertSame([[Int]]([[], [1], [2, 3]]))
        try assertSame(Optional<Int>.none)
        try assertSame("top-level string")
        try assertSame(UInt64.max)
    }

    /// Encodes the same key three times (Foundation traps on a nested container over a value, so not that): objects keep their members as a list now,
    /// so the last value of a key must still be the one written, as with Foundation's encoder.
    struct Twice: Encodable {
        enum Key: String, CodingKey { case b, a, c }
        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(1, forKey: .b)
            try container.encode("first", forKey: .a)
            try container.encode(2, forKey: .b)
            try container.encode([3], forKey: .c)
            try container.encode(4, forKey: .b)
        }
    }

    func testObjectsWithRepeatedOrManyKeysEncodeAsFoundationDoes() throws {
        try assertSame(Twice())
        XCTAssertEqual(try compact(Twice()), #"{"a":"first","b":4,"c":[3]}"#)
        var many: [String: Int] = [:]
        for index in 0..<300 { many["k\(index * 7919 % 1000)"] = index }
        try assertSame(many)
    }

    /// Containers nested by hand (`nestedContainer`, as `VersionPolicy` does), a container asked for twice, and
    /// members encoded out of key order at every level.
    struct HandNested: Encodable {
        enum Key: String, CodingKey { case z, m, a }
        enum Inner: String, CodingKey { case y, b }
        func encode(to encoder: Encoder) throws {
            var outer = encoder.container(keyedBy: Key.self)
            var inner = outer.nestedContainer(keyedBy: Inner.self, forKey: .z)
            try inner.encode("why", forKey: .y)
            var list = inner.nestedUnkeyedContainer(forKey: .b)
            try list.encode(1)
            var object = list.nestedContainer(keyedBy: Inner.self)
            try object.encode(true, forKey: .y)
            try object.encodeNil(forKey: .b)
            try list.encode([2.5])
            try outer.encode("middle", forKey: .m)
            var again = encoder.container(keyedBy: Key.self)
            try again.encode(["x": 1], forKey: .a)
        }
    }

    /// Writes to a nested container after its parent moved on: legal, and the same bytes as Foundation's.
    struct LateNestedWrite: Encodable {
        enum Key: String, CodingKey { case a, b }
        func encode(to encoder: Encoder) throws {
            var outer = encoder.container(keyedBy: Key.self)
            var inner = outer.nestedUnkeyedContainer(forKey: .a)
            try inner.encode(1)
            try outer.encode(2, forKey: .b)
            try inner.encode(3)
        }
    }

    func testContainersNestedByHandEncodeAsFoundationDoes() throws {
        try assertSame(HandNested())
        XCTAssertEqual(try compact(HandNested()), #"{"a":{"x":1},"m":"middle","z":{"b":[1,{"b":null,"y":true},[2.5]],"y":"why"}}"#)
        try assertSame(VersionPolicy.latest(2))
        try assertSame(VersionPolicy.specific([3, 1]))
        try assertSame(VersionPolicy.all)
        try assertSame(LateNestedWrite())
        XCTAssertEqual(try compact(LateNestedWrite()), #"{"a":[1,3],"b":2}"#)
    }

    func testClassifyAnswerEncodesAsFoundationDoes() throws {
        let predictions = [ClassifyAnswer.Prediction(label: "8", index: 8, probability: 0.9999999822383866),
                           ClassifyAnswer.Prediction(label: "nan", index: 1, probability: .nan)]
        try assertSame(ClassifyAnswer(model: "mnist-cnn", version: 1, predictions: predictions))
        try assertSame(ClassifyAnswer(model: "m", version: 2, results: [.init(filename: "a/b.png", predictions: predictions),
                                                                       .init(filename: nil, predictions: [])]))
    }

    func testWhatItLeavesToFoundationStillEncodes() throws {
        struct WithData: Encodable { let blob: Data; let when: Date }
        let value = WithData(blob: Data([1, 2, 3]), when: Date(timeIntervalSince1970: 0))
        XCTAssertThrowsError(try CompactJSONEncoder.encode(value))
        XCTAssertEqual(String(decoding: try JSONAnswer.bytes(value), as: UTF8.self), try foundation(value))
    }

    func testNonFiniteNumbersThrowAsInFoundation() {
        XCTAssertThrowsError(try CompactJSONEncoder.encode([Double.infinity]))
        XCTAssertThrowsError(try CompactJSONEncoder.encode(["x": Float.nan]))
        XCTAssertThrowsError(try JSONAnswer.bytes([Double.nan]))
    }
}
