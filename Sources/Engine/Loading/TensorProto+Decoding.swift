import Foundation
import ONNXProto

extension Tensor {
    /// Decodes an ONNX `TensorProto`: `raw_data`, the typed fields (`float_data`, `int32_data`,
    /// `int64_data`, `double_data`, `uint64_data`) or external data in a file beside the model.
    ///
    /// Sizes are checked against the bytes actually present before anything is allocated, so a
    /// crafted `dims` cannot make the engine allocate what the file does not hold.
    init(proto: Onnx_TensorProto, modelDirectory: URL?) throws {
        let name = proto.name.isEmpty ? "(unnamed)" : proto.name
        guard let dataType = DataType(rawValue: proto.dataType) else {
            throw EngineError.unsupportedDataType(DataType.onnxName(proto.dataType), context: "tensor '\(name)'")
        }
        let shape = try proto.dims.map { dim -> Int in
            guard dim >= 0, dim <= Int64(Int32.max) else {
                throw EngineError.invalidModel(reason: "tensor '\(name)' has dimension \(dim)")
            }
            return Int(dim)
        }
        // The run-time rule too: an empty tensor's other dimensions must not multiply past what a kernel can count.
        guard let count = try? checkedElementCount(shape), count <= Int(Int32.max) else {
            throw EngineError.invalidModel(reason: "tensor '\(name)' with shape \(shape) is too large")
        }
        let byteCount = count * dataType.size

        if proto.dataLocation == .external {
            let bytes = try Self.readExternalData(proto, name: name, byteCount: byteCount, modelDirectory: modelDirectory)
            self = bytes.withUnsafeBytes { Tensor(dataType: dataType, shape: shape, bytes: $0) }
            return
        }
        if proto.hasRawData {
            guard proto.rawData.count == byteCount else {
                throw EngineError.invalidModel(
                    reason: "tensor '\(name)' of type \(dataType) and shape \(shape) needs \(byteCount) bytes, raw_data has \(proto.rawData.count)")
            }
            self = proto.rawData.withUnsafeBytes { Tensor(dataType: dataType, shape: shape, bytes: $0) }
            return
        }
        self = try Self.fromTypedFields(proto, dataType: dataType, shape: shape, count: count, name: name)
    }

    private static func fromTypedFields(_ proto: Onnx_TensorProto, dataType: DataType, shape: [Int],
                                        count: Int, name: String) throws -> Tensor {
        func check(_ present: Int, _ field: String) throws {
            guard present == count else {
                throw EngineError.invalidModel(
                    reason: "tensor '\(name)' with shape \(shape) needs \(count) values, \(field) has \(present)")
            }
        }
        switch dataType {
        case .float:
            try check(proto.floatData.count, "float_data")
            return Tensor(shape: shape, copying: proto.floatData, as: .float)
        case .double:
            try check(proto.doubleData.count, "double_data")
            return Tensor(shape: shape, copying: proto.doubleData, as: .double)
        case .int64:
            try check(proto.int64Data.count, "int64_data")
            return Tensor(shape: shape, copying: proto.int64Data, as: .int64)
        case .uint64:
            try check(proto.uint64Data.count, "uint64_data")
            return Tensor(shape: shape, copying: proto.uint64Data, as: .uint64)
        case .uint32:
            try check(proto.uint64Data.count, "uint64_data")
            return Tensor(shape: shape, copying: proto.uint64Data.map { UInt32(truncatingIfNeeded: $0) }, as: .uint32)
        case .int32:
            try check(proto.int32Data.count, "int32_data")
            return Tensor(shape: shape, copying: proto.int32Data, as: .int32)
        case .int16:
            try check(proto.int32Data.count, "int32_data")
            return Tensor(shape: shape, copying: proto.int32Data.map { Int16(truncatingIfNeeded: $0) }, as: .int16)
        case .uint16:
            try check(proto.int32Data.count, "int32_data")
            return Tensor(shape: shape, copying: proto.int32Data.map { UInt16(truncatingIfNeeded: $0) }, as: .uint16)
        case .int8:
            try check(proto.int32Data.count, "int32_data")
            return Tensor(shape: shape, copying: proto.int32Data.map { Int8(truncatingIfNeeded: $0) }, as: .int8)
        case .uint8:
            try check(proto.int32Data.count, "int32_data")
            return Tensor(shape: shape, copying: proto.int32Data.map { UInt8(truncatingIfNeeded: $0) }, as: .uint8)
        case .bool:
            try check(proto.int32Data.count, "int32_data")
            return Tensor(shape: shape, copying: proto.int32Data.map { $0 != 0 ? UInt8(1) : 0 }, as: .bool)
        }
    }

    /// Reads `length` bytes at `offset` from `location`, a path relative to the model's folder
    /// that may not leave it (no absolute paths, no `..`).
    private static func readExternalData(_ proto: Onnx_TensorProto, name: String, byteCount: Int,
                                         modelDirectory: URL?) throws -> Data {
        let entries = Dictionary(proto.externalData.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        guard let location = entries["location"], !location.isEmpty else {
            throw EngineError.externalData(tensor: name, reason: "no 'location' entry")
        }
        guard let directory = modelDirectory else {
            throw EngineError.externalData(tensor: name, reason: "the model was loaded from memory, so '\(location)' has no folder to be read from")
        }
        let components = location.split(separator: "/", omittingEmptySubsequences: true)
        guard !location.hasPrefix("/"), !components.contains(".."), !components.isEmpty else {
            throw EngineError.externalData(tensor: name, reason: "location '\(location)' must be a relative path inside the model's folder")
        }
        let offset = Int(entries["offset"] ?? "0") ?? -1
        let length = entries["length"].map { Int($0) ?? -1 } ?? byteCount
        guard offset >= 0, length == byteCount else {
            throw EngineError.externalData(
                tensor: name, reason: "offset \(entries["offset"] ?? "0") / length \(entries["length"] ?? "-") do not fit the \(byteCount) bytes the tensor needs")
        }
        let url = try resolvedInside(directory, location, tensor: name)
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw EngineError.externalData(tensor: name, reason: "cannot open \(url.path)")
        }
        defer { try? handle.close() }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: byteCount) ?? Data()
            guard data.count == byteCount else {
                throw EngineError.externalData(tensor: name, reason: "\(url.path) holds \(data.count) bytes at offset \(offset), \(byteCount) needed")
            }
            return data
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError.externalData(tensor: name, reason: "reading \(url.path): \(error)")
        }
    }

    /// `location` inside `directory`, both with symlinks resolved (realpath), or an error: a link
    /// inside the model's folder must not lead a model to read any file the server can.
    private static func resolvedInside(_ directory: URL, _ location: String, tensor name: String) throws -> URL {
        guard let folder = realPath(directory.path) else {
            throw EngineError.externalData(tensor: name, reason: "the model's folder \(directory.path) cannot be resolved")
        }
        let candidate = directory.appendingPathComponent(location).path
        guard let file = realPath(candidate) else {
            throw EngineError.externalData(tensor: name, reason: "cannot open \(candidate)")
        }
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        guard file.hasPrefix(prefix) else {
            throw EngineError.externalData(tensor: name, reason: "location '\(location)' resolves to \(file), outside the model's folder \(folder)")
        }
        return URL(fileURLWithPath: file)
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
