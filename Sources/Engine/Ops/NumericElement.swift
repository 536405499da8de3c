/// The element types arithmetic runs on, with the operations whose meaning differs between
/// integers and floats (division, power, modulo, conversion), defined so that no input can trap.
///
/// Integer arithmetic wraps in two's complement as ONNX (and C) does: `Int32.max + 1` is
/// `Int32.min`, `-Int32.min` is `Int32.min`. Swift's `+ - *` trap on overflow instead, so kernels
/// use `add`, `subtract`, `multiply` and `negate`, never the operators, on `NumericElement`s.
/// Integer division by zero has no answer: kernels check divisors first (`containsZero`) and
/// throw; `divide` and `modulo` return 0 for it only so that they cannot trap.
protocol NumericElement: Comparable, Numeric {
    static var dataType: DataType { get }
    static func add(_ a: Self, _ b: Self) -> Self
    static func subtract(_ a: Self, _ b: Self) -> Self
    static func multiply(_ a: Self, _ b: Self) -> Self
    static func negate(_ a: Self) -> Self
    static func divide(_ a: Self, _ b: Self) -> Self
    static func power(_ a: Self, _ b: Self) -> Self
    /// `fmod` (sign of the dividend) when `fmod` is true, else Python's `%` (sign of the divisor).
    static func modulo(_ a: Self, _ b: Self, fmod: Bool) -> Self
    var doubleValue: Double { get }
    /// Converts, saturating out-of-range values and mapping NaN to zero for integer types.
    init(converting value: Double)
    static var isInteger: Bool { get }
    /// Two's-complement bits widened to 64 (integers; floats convert).
    var wrappingBits: Int64 { get }
    init(wrappingBits: Int64)
}

extension NumericElement where Self: BinaryFloatingPoint {
    static var isInteger: Bool { false }
    static func add(_ a: Self, _ b: Self) -> Self { a + b }
    static func subtract(_ a: Self, _ b: Self) -> Self { a - b }
    static func multiply(_ a: Self, _ b: Self) -> Self { a * b }
    static func negate(_ a: Self) -> Self { -a }
    var wrappingBits: Int64 { Int64(converting: doubleValue) }
    init(wrappingBits: Int64) { self.init(converting: Double(wrappingBits)) }
    static func divide(_ a: Self, _ b: Self) -> Self { a / b }
    static func modulo(_ a: Self, _ b: Self, fmod: Bool) -> Self {
        let r = a.truncatingRemainder(dividingBy: b)
        if fmod || r == 0 || (r < 0) == (b < 0) { return r }
        return r + b
    }
}

extension Float: NumericElement {
    static var dataType: DataType { .float }
    static func power(_ a: Float, _ b: Float) -> Float { powf(a, b) }
    var doubleValue: Double { Double(self) }
    init(converting value: Double) { self.init(value) }
}

extension Double: NumericElement {
    static var dataType: DataType { .double }
    static func power(_ a: Double, _ b: Double) -> Double { pow(a, b) }
    var doubleValue: Double { self }
    init(converting value: Double) { self = value }
}

extension NumericElement where Self: FixedWidthInteger {
    static var isInteger: Bool { true }
    static func add(_ a: Self, _ b: Self) -> Self { a &+ b }
    static func subtract(_ a: Self, _ b: Self) -> Self { a &- b }
    static func multiply(_ a: Self, _ b: Self) -> Self { a &* b }
    static func negate(_ a: Self) -> Self { 0 &- a }
    var wrappingBits: Int64 { Int64(truncatingIfNeeded: self) }
    init(wrappingBits: Int64) { self.init(truncatingIfNeeded: wrappingBits) }
    /// Truncating division; `min / -1` wraps to `min` (the quotient's overflow), `x / 0` is 0.
    static func divide(_ a: Self, _ b: Self) -> Self {
        guard b != 0 else { return 0 }
        return a.dividedReportingOverflow(by: b).partialValue
    }
    /// Exact `a^b` wrapped to the type, by repeated squaring (going through Double would round
    /// 64-bit results). A negative exponent gives the truncated reciprocal: 1 for a = 1, ±1 for
    /// a = -1, else 0 (also for 0, whose reciprocal does not exist).
    static func power(_ a: Self, _ b: Self) -> Self {
        if b < 0 {
            if a == 1 { return 1 }
            if Self.isSigned && a == 0 &- 1 { return b & 1 == 0 ? 1 : a }
            return 0
        }
        var result: Self = 1, base = a, exponent = b
        while exponent > 0 {
            if exponent & 1 == 1 { result = result &* base }
            exponent >>= 1
            if exponent > 0 { base = base &* base }
        }
        return result
    }
    static func modulo(_ a: Self, _ b: Self, fmod: Bool) -> Self {
        guard b != 0 else { return 0 }
        let r = a.remainderReportingOverflow(dividingBy: b).partialValue
        if fmod || r == 0 || (r < 0) == (b < 0) { return r }
        return r &+ b
    }
    var doubleValue: Double { Double(self) }
    init(converting value: Double) {
        if value.isNaN {
            self = 0
        } else if value <= Double(Self.min) {
            self = .min
        } else if value >= Double(Self.max) {
            self = .max
        } else {
            self.init(value.rounded(.towardZero))
        }
    }
}

extension UnsafePointer where Pointee: NumericElement {
    /// Whether any of the `count` elements is zero (an integer divisor that must be refused).
    func containsZero(count: Int) -> Bool {
        for i in 0..<count where self[i] == .zero { return true }
        return false
    }
}

extension Int {
    /// The integer nearest a floating-point value toward zero, saturating at `Int.min`/`Int.max`
    /// and mapping NaN to 0: `Int(_:)` traps on all three, and kernels compute such values from
    /// tensor data (coordinates, sizes, ROI boxes).
    init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= Double(Int.max) {
            self = .max
        } else if value <= Double(Int.min) {
            self = .min
        } else {
            self.init(value.rounded(.towardZero))
        }
    }

    init(saturating value: Float) { self.init(saturating: Double(value)) }
}

extension Int64: NumericElement { static var dataType: DataType { .int64 } }
extension Int32: NumericElement { static var dataType: DataType { .int32 } }
extension Int16: NumericElement { static var dataType: DataType { .int16 } }
extension Int8: NumericElement { static var dataType: DataType { .int8 } }
extension UInt64: NumericElement { static var dataType: DataType { .uint64 } }
extension UInt32: NumericElement { static var dataType: DataType { .uint32 } }
extension UInt16: NumericElement { static var dataType: DataType { .uint16 } }
extension UInt8: NumericElement { static var dataType: DataType { .uint8 } }

/// Runs generic code with the Swift type that matches a tensor's element type.
protocol NumericVisitor {
    associatedtype Result
    func visit<T: NumericElement>(_ type: T.Type) throws -> Result
}

func dispatchNumeric<V: NumericVisitor>(_ dataType: DataType, _ visitor: V) throws -> V.Result {
    switch dataType {
    case .float: try visitor.visit(Float.self)
    case .double: try visitor.visit(Double.self)
    case .int64: try visitor.visit(Int64.self)
    case .int32: try visitor.visit(Int32.self)
    case .int16: try visitor.visit(Int16.self)
    case .int8: try visitor.visit(Int8.self)
    case .uint64: try visitor.visit(UInt64.self)
    case .uint32: try visitor.visit(UInt32.self)
    case .uint16: try visitor.visit(UInt16.self)
    case .uint8: try visitor.visit(UInt8.self)
    case .bool: throw KernelError("bool tensors do not support arithmetic")
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
