/// An n-dimensional array of one element type, in row-major (C) order.
///
/// A `Tensor` is a value: copying one shares its storage, and no API mutates a published tensor.
/// Views that only change the shape (Reshape, Flatten, Squeeze, …) share storage too.
public struct Tensor: @unchecked Sendable {
    public let dataType: DataType
    public let shape: [Int]
    /// `var` only so the memory planner can ask whether this is the last reference.
    var storage: TensorStorage

    init(dataType: DataType, shape: [Int], storage: TensorStorage) {
        precondition(storage.byteCount >= Self.elementCount(shape) * dataType.size, "storage too small for shape")
        self.dataType = dataType
        self.shape = shape
        self.storage = storage
    }

    /// Number of elements. An empty tensor may have huge other dimensions ([0, 2^40, 2^40]), so a
    /// zero is looked for before multiplying.
    public var count: Int { Self.elementCount(shape) }

    /// The product of `shape`, 0 as soon as a dimension is 0 (without multiplying the others).
    static func elementCount(_ shape: [Int]) -> Int {
        shape.contains(0) ? 0 : shape.reduce(1, *)
    }
    public var rank: Int { shape.count }

    /// A tensor of the same data with another shape of the same element count (no copy).
    func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(dataType: dataType, shape: newShape, storage: storage)
    }

    // MARK: Typed access

    func pointer<T>(as type: T.Type) -> UnsafeMutablePointer<T> {
        storage.bytes.assumingMemoryBound(to: T.self)
    }

    /// The elements as a read-only buffer; `T` must match `dataType`.
    public func withUnsafeBuffer<T, R>(of type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R {
        precondition(MemoryLayout<T>.size == dataType.size, "element type does not match \(dataType)")
        return try body(UnsafeBufferPointer(start: pointer(as: T.self), count: count))
    }

    func mutableBuffer<T>(of type: T.Type) -> UnsafeMutableBufferPointer<T> {
        UnsafeMutableBufferPointer(start: pointer(as: T.self), count: count)
    }

    var floats: UnsafeMutableBufferPointer<Float> { mutableBuffer(of: Float.self) }
    var int64s: UnsafeMutableBufferPointer<Int64> { mutableBuffer(of: Int64.self) }

    // MARK: Creating tensors

    /// An uninitialised tensor with fresh storage.
    init(uninitialized dataType: DataType, shape: [Int]) {
        let storage = TensorStorage(byteCount: Self.elementCount(shape) * dataType.size)
        self.init(dataType: dataType, shape: shape, storage: storage)
    }

    public init(shape: [Int], floats values: [Float]) {
        self.init(shape: shape, copying: values, as: .float)
    }

    public init(shape: [Int], int64s values: [Int64]) {
        self.init(shape: shape, copying: values, as: .int64)
    }

    public init(shape: [Int], int32s values: [Int32]) {
        self.init(shape: shape, copying: values, as: .int32)
    }

    public init(shape: [Int], bools values: [Bool]) {
        self.init(shape: shape, copying: values.map { $0 ? UInt8(1) : 0 }, as: .bool)
    }

    /// A scalar (rank 0) float tensor.
    public init(scalar: Float) { self.init(shape: [], floats: [scalar]) }

    init<T>(shape: [Int], copying values: [T], as dataType: DataType) {
        precondition(values.count == Self.elementCount(shape), "\(values.count) values for shape \(shape)")
        precondition(MemoryLayout<T>.size == dataType.size)
        self.init(uninitialized: dataType, shape: shape)
        values.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress, bytes.count > 0 { storage.bytes.copyMemory(from: base, byteCount: bytes.count) }
        }
    }

    /// A tensor filled with zero bytes (0, 0.0 or false).
    public static func zeros(_ dataType: DataType, shape: [Int]) -> Tensor {
        let tensor = Tensor(uninitialized: dataType, shape: shape)
        tensor.storage.bytes.initializeMemory(as: UInt8.self, repeating: 0, count: tensor.byteCount)
        return tensor
    }

    var byteCount: Int { count * dataType.size }

    /// A copy of the raw bytes, for interchange formats.
    public var data: [UInt8] {
        Array(UnsafeBufferPointer(start: storage.bytes.assumingMemoryBound(to: UInt8.self), count: byteCount))
    }

    /// Builds a tensor from raw little-endian bytes.
    public init(dataType: DataType, shape: [Int], bytes: UnsafeRawBufferPointer) {
        self.init(uninitialized: dataType, shape: shape)
        precondition(bytes.count == byteCount, "\(bytes.count) bytes for \(dataType) \(shape)")
        if byteCount > 0 { storage.bytes.copyMemory(from: bytes.baseAddress!, byteCount: byteCount) }
    }

    // MARK: Reading values out

    /// The elements converted to Float (any numeric type).
    public func floatArray() -> [Float] { (0..<count).map { element(at: $0) } }

    /// The elements converted to Int64: exact for every integer type (UINT64 above `Int64.max`
    /// wraps to negative, as a C cast; use `uint64Array()` for those), bool as 0/1, floats
    /// truncated toward zero and saturated, NaN as 0.
    public func int64Array() -> [Int64] {
        (0..<count).map { int64Element(at: $0) }
    }

    /// The elements converted to UInt64: exact for every unsigned type and for non-negative signed
    /// values; negative integers wrap (two's complement, as a C cast), floats truncate and
    /// saturate (negative to 0), NaN as 0. For serialising UINT64 tensors above `Int64.max`.
    public func uint64Array() -> [UInt64] {
        (0..<count).map { i in
            switch dataType {
            case .uint64: pointer(as: UInt64.self)[i]
            case .float: UInt64(converting: Double(pointer(as: Float.self)[i]))
            case .double: UInt64(converting: pointer(as: Double.self)[i])
            default: UInt64(bitPattern: int64Element(at: i))
            }
        }
    }

    /// Element `i` as Int64, exactly for integers (see `int64Array`).
    func int64Element(at i: Int) -> Int64 {
        switch dataType {
        case .int64: pointer(as: Int64.self)[i]
        case .int32: Int64(pointer(as: Int32.self)[i])
        case .int16: Int64(pointer(as: Int16.self)[i])
        case .int8: Int64(pointer(as: Int8.self)[i])
        case .uint8, .bool: Int64(pointer(as: UInt8.self)[i])
        case .uint16: Int64(pointer(as: UInt16.self)[i])
        case .uint32: Int64(pointer(as: UInt32.self)[i])
        case .uint64: Int64(bitPattern: pointer(as: UInt64.self)[i])
        case .float: Int64(converting: Double(pointer(as: Float.self)[i]))
        case .double: Int64(converting: pointer(as: Double.self)[i])
        }
    }

    /// The elements converted to Double (exact for float32, float64 and integers up to 2^53; all of int32, uint32).
    public func doubleArray() -> [Double] {
        (0..<count).map { i in
            switch dataType {
            case .double: pointer(as: Double.self)[i]
            case .float: Double(pointer(as: Float.self)[i])
            case .uint64: Double(pointer(as: UInt64.self)[i])
            default: Double(int64Element(at: i))
            }
        }
    }

    /// Element `i` (flat index) converted to Float.
    func element(at i: Int) -> Float {
        switch dataType {
        case .float: pointer(as: Float.self)[i]
        case .double: Float(pointer(as: Double.self)[i])
        case .int64: Float(pointer(as: Int64.self)[i])
        case .int32: Float(pointer(as: Int32.self)[i])
        case .int16: Float(pointer(as: Int16.self)[i])
        case .int8: Float(pointer(as: Int8.self)[i])
        case .uint8, .bool: Float(pointer(as: UInt8.self)[i])
        case .uint16: Float(pointer(as: UInt16.self)[i])
        case .uint32: Float(pointer(as: UInt32.self)[i])
        case .uint64: Float(pointer(as: UInt64.self)[i])
        }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String { "Tensor<\(dataType)>\(shape)" }
}
