import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// Initializers in every encoding ONNX allows: raw_data, typed fields, external files.
final class TensorDecodingTests: XCTestCase {
    private func identity(of tensor: Onnx_TensorProto, type: Int32) throws -> Tensor {
        var model = ModelBuilder()
        model.output("y", tensor.dims.map { .fixed(Int($0)) }, type: type)
        model.initializers.append(tensor)
        model.node("Identity", [tensor.name], ["y"])
        let outputs = try model.plan().run([:])
        return try XCTUnwrap(outputs["y"])
    }

    func testTypedFields() throws {
        var floats = Onnx_TensorProto()
        (floats.name, floats.dataType, floats.dims, floats.floatData) = ("f", 1, [2, 2], [1, -2, 3.5, 4])
        XCTAssertEqual(try identity(of: floats, type: 1).floatArray(), [1, -2, 3.5, 4])

        var int64s = Onnx_TensorProto()
        (int64s.name, int64s.dataType, int64s.dims, int64s.int64Data) = ("i", 7, [3], [Int64.max, -1, 0])
        XCTAssertEqual(try identity(of: int64s, type: 7).int64Array(), [Int64.max, -1, 0])

        var int32s = Onnx_TensorProto()
        (int32s.name, int32s.dataType, int32s.dims, int32s.int32Data) = ("j", 6, [2], [-7, 70000])
        XCTAssertEqual(try identity(of: int32s, type: 6).int64Array(), [-7, 70000])

        var bools = Onnx_TensorProto()
        (bools.name, bools.dataType, bools.dims, bools.int32Data) = ("b", 9, [3], [1, 0, 1])
        XCTAssertEqual(try identity(of: bools, type: 9).data, [1, 0, 1])

        var doubles = Onnx_TensorProto()
        (doubles.name, doubles.dataType, doubles.dims, doubles.doubleData) = ("d", 11, [1], [0.25])
        XCTAssertEqual(try identity(of: doubles, type: 11).floatArray(), [0.25])
    }

    func testRawData() throws {
        var tensor = Onnx_TensorProto()
        (tensor.name, tensor.dataType, tensor.dims) = ("r", 7, [2])
        tensor.rawData = [Int64(5), Int64(-6)].withUnsafeBytes { Data($0) }
        XCTAssertEqual(try identity(of: tensor, type: 7).int64Array(), [5, -6])
    }

    func testTypedFieldCountMismatch() {
        var tensor = Onnx_TensorProto()
        (tensor.name, tensor.dataType, tensor.dims, tensor.floatData) = ("f", 1, [3], [1, 2])
        XCTAssertThrowsError(try identity(of: tensor, type: 1)) { error in
            guard case .invalidModel(let reason)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("3 values"), reason)
        }
    }

    private func externalModel(location: String, offset: Int = 8, length: Int = 16) throws -> (URL, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-external-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var bytes = Data(repeating: 0xAB, count: 8)
        bytes.append([Float(1), 2, 3, 4].withUnsafeBytes { Data($0) })
        try bytes.write(to: folder.appendingPathComponent("weights.bin"))
        var tensor = Onnx_TensorProto()
        (tensor.name, tensor.dataType, tensor.dims) = ("w", 1, [4])
        tensor.dataLocation = .external
        tensor.externalData = [("location", location), ("offset", "\(offset)"), ("length", "\(length)")].map {
            var entry = Onnx_StringStringEntryProto()
            (entry.key, entry.value) = ($0.0, $0.1)
            return entry
        }
        var model = ModelBuilder()
        model.output("y", [4])
        model.initializers.append(tensor)
        model.node("Identity", ["w"], ["y"])
        let url = folder.appendingPathComponent("model.onnx")
        try model.data().write(to: url)
        return (folder, url)
    }

    func testExternalDataBesideTheModel() throws {
        let (folder, url) = try externalModel(location: "weights.bin")
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertEqual(try Plan(contentsOf: url).run([:])["y"]?.floatArray(), [1, 2, 3, 4])
    }

    func testExternalDataMayNotLeaveTheModelFolder() throws {
        for location in ["../weights.bin", "/etc/passwd", "a/../../weights.bin", "./../weights.bin", "..", "/"] {
            let (folder, url) = try externalModel(location: location)
            defer { try? FileManager.default.removeItem(at: folder) }
            XCTAssertThrowsError(try Plan(contentsOf: url), location) { error in
                guard case .externalData(let tensor, _)? = error as? EngineError else { return XCTFail("\(error)") }
                XCTAssertEqual(tensor, "w")
            }
        }
    }

    func testExternalDataThroughASymlinkToOutsideIsRefused() throws {
        let (folder, url) = try externalModel(location: "link.bin")
        defer { try? FileManager.default.removeItem(at: folder) }
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-outside-\(UUID().uuidString).bin")
        try Data(count: 64).write(to: outside)
        defer { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("link.bin"), withDestinationURL: outside)
        XCTAssertThrowsError(try Plan(contentsOf: url)) { error in
            guard case .externalData(let tensor, let reason)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, "w")
            XCTAssertTrue(reason.contains("outside the model's folder"), reason)
        }
    }

    func testExternalDataInASymlinkedFolderLeadingOutsideIsRefused() throws {
        let (folder, url) = try externalModel(location: "shared/weights.bin")
        defer { try? FileManager.default.removeItem(at: folder) }
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        try FileManager.default.copyItem(at: folder.appendingPathComponent("weights.bin"), to: outside.appendingPathComponent("weights.bin"))
        try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent("shared"), withDestinationURL: outside)
        XCTAssertThrowsError(try Plan(contentsOf: url)) { error in
            guard case .externalData(_, let reason)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("outside the model's folder"), reason)
        }
    }

    func testSymlinksThatStayInsideTheFolderAreFollowed() throws {
        let (folder, url) = try externalModel(location: "data/link.bin")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("data/link.bin").path, withDestinationPath: "../weights.bin")
        XCTAssertEqual(try Plan(contentsOf: url).run([:])["y"]?.floatArray(), [1, 2, 3, 4])
        // And a model opened through a symlinked folder still finds its own data.
        let alias = FileManager.default.temporaryDirectory.appendingPathComponent("deepserve-alias-\(UUID().uuidString)")
        try FileManager.default.createSymbolicLink(at: alias, withDestinationURL: folder)
        defer { try? FileManager.default.removeItem(at: alias) }
        XCTAssertEqual(try Plan(contentsOf: alias.appendingPathComponent("model.onnx")).run([:])["y"]?.floatArray(), [1, 2, 3, 4])
    }

    func testExternalDataShorterThanDeclared() throws {
        let (folder, url) = try externalModel(location: "weights.bin", offset: 12)
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try Plan(contentsOf: url)) { error in
            guard case .externalData? = error as? EngineError else { return XCTFail("\(error)") }
        }
    }

    func testMissingExternalFile() throws {
        let (folder, url) = try externalModel(location: "other.bin")
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertThrowsError(try Plan(contentsOf: url)) { error in
            guard case .externalData(_, let reason)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("other.bin"), reason)
        }
    }
}
