import Foundation

/// Reading and writing NumPy `.npy` files (format versions 1–3), the interchange format of
/// `deepserve run`. C order only; little-endian numeric types the engine supports.
public enum NumpyFile {
    public enum Error: Swift.Error, Equatable, CustomStringConvertible {
        case notNumpy(String)
        case unsupported(String)

        public var description: String {
            switch self {
            case .notNumpy(let reason): "not a .npy file: \(reason)"
            case .unsupported(let reason): "unsupported .npy content: \(reason)"
            }
        }
    }

    private static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    private static let descriptors: [String: DataType] = [
        "<f4": .float, "<f8": .double, "<i8": .int64, "<i4": .int32, "<i2": .int16, "|i1": .int8,
        "|u1": .uint8, "<u2": .uint16, "<u4": .uint32, "<u8": .uint64, "|b1": .bool,
    ]

    public static func read(contentsOf url: URL) throws -> Tensor {
        try decode(try Data(contentsOf: url))
    }

    public static func decode(_ data: Data) throws -> Tensor {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw Error.notNumpy("missing the \\x93NUMPY magic") }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1: (headerLength, headerStart) = (Int(bytes[8]) | Int(bytes[9]) << 8, 10)
        case 2, 3:
            guard bytes.count >= 12 else { throw Error.notNumpy("truncated header") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default: throw Error.unsupported("format version \(major)")
        }
        guard headerStart + headerLength <= bytes.count else { throw Error.notNumpy("truncated header") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header).map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }) else {
            throw Error.notNumpy("header has no 'descr'")
        }
        guard let dataType = descriptors[descr] else { throw Error.unsupported("dtype '\(descr)'") }
        if let fortran = field("fortran_order", in: header), fortran.hasPrefix("True") {
            throw Error.unsupported("Fortran order (save with np.ascontiguousarray)")
        }
        guard let shapeText = field("shape", in: header) else { throw Error.notNumpy("header has no 'shape'") }
        let shape = try shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { text -> Int in
                guard let value = Int(text), value >= 0, value < Int(Int32.max) else { throw Error.notNumpy("bad shape \(shapeText)") }
                return value
            }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (p, o) = acc.0.multipliedReportingOverflow(by: d)
            return (p, acc.1 || o)
        }
        let payload = bytes.count - headerStart - headerLength
        guard !overflow, count * dataType.size == payload else {
            throw Error.notNumpy("shape \(shape) of \(descr) needs \(count * dataType.size) bytes, the file holds \(payload)")
        }
        return bytes[(headerStart + headerLength)...].withUnsafeBytes { Tensor(dataType: dataType, shape: shape, bytes: $0) }
    }

    public static func encode(_ tensor: Tensor) -> Data {
        let descr = descriptors.first { $0.value == tensor.dataType }!.key
        let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        // Pad so the data starts on a 64-byte boundary, ending the header with a newline.
        let unpadded = magic.count + 4 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data(magic + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: tensor.data)
        return data
    }

    public static func write(_ tensor: Tensor, to url: URL) throws {
        try encode(tensor).write(to: url)
    }

    /// The raw text of a key's value in the header dict (up to the next top-level comma).
    private static func field(_ key: String, in header: String) -> String? {
        guard let range = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[range.upperBound...].drop { $0 == " " || $0 == ":" }
        var depth = 0
        var value = ""
        while let c = rest.first {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if (c == "," && depth == 0) || c == "}" { break }
            value.append(c)
            rest = rest.dropFirst()
        }
        return value.trimmingCharacters(in: .whitespaces)
    }
}
