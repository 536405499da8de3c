import Foundation
import XCTest

/// The reference files written by Fixtures/make_fixtures.py, listed in Fixtures/manifest.json.
struct Fixture: Decodable {
    struct Resize: Decodable {
        var source: String
        var filter: String
        var width: Int
        var height: Int
    }
    var file: String?
    var expected: String
    var width: Int
    var height: Int
    var channels: Int
    var tolerance: Int
    var resize: Resize?

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func all() throws -> [Fixture] {
        try JSONDecoder().decode([Fixture].self, from: Data(contentsOf: folder.appendingPathComponent("manifest.json")))
    }

    static func data(_ name: String) throws -> Data { try Data(contentsOf: folder.appendingPathComponent(name)) }

    func expectedPixels() throws -> [UInt8] { [UInt8](try Fixture.data(expected)) }
}

/// A float32 or int64 .npy file (little-endian, C order): its shape and values as Double.
func readNumpy(_ url: URL) throws -> (shape: [Int], values: [Double]) {
    let data = [UInt8](try Data(contentsOf: url))
    guard data.count > 10, data[0] == 0x93, String(decoding: data[1..<6], as: UTF8.self) == "NUMPY" else {
        throw CocoaError(.fileReadCorruptFile)
    }
    let major = data[6]
    let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8
        : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
    let headerStart = major == 1 ? 10 : 12
    let header = String(decoding: data[headerStart..<headerStart + headerLength], as: UTF8.self)
    let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
    let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let body = Array(data[(headerStart + headerLength)...])
    let count = shape.reduce(1, *)
    if header.contains("'<f4'") {
        return (shape, (0..<count).map { i in
            Double(Float(bitPattern: UInt32(body[4 * i]) | UInt32(body[4 * i + 1]) << 8 | UInt32(body[4 * i + 2]) << 16
                         | UInt32(body[4 * i + 3]) << 24))
        })
    }
    if header.contains("'<i8'") {
        return (shape, (0..<count).map { i in
            Double(Int64(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(body[8 * i + $1]) << (8 * $1) }))
        })
    }
    throw CocoaError(.fileReadCorruptFile)
}

/// Asserts two sample arrays agree within `tolerance`, reporting the first difference and the worst.
func assertPixels(_ actual: [UInt8], _ expected: [UInt8], tolerance: Int = 0, _ what: String,
                  file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("\(what): \(actual.count) samples, expected \(expected.count)", file: file, line: line)
        return
    }
    var worst = 0, first: Int?
    for i in 0..<actual.count {
        let difference = abs(Int(actual[i]) - Int(expected[i]))
        worst = max(worst, difference)
        if difference > tolerance && first == nil { first = i }
    }
    if let first {
        XCTFail("\(what): sample \(first) is \(actual[first]), expected \(expected[first]); worst difference \(worst)",
                file: file, line: line)
    }
}
