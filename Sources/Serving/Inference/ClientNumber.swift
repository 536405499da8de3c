import Foundation

/// The one way a number a client sent — a JSON value, a query parameter, a header — becomes a Swift number.
///
/// Every conversion is checked: a value of the wrong kind (a string, a bool, a fraction where an integer is due) or
/// outside the range the field allows is `ServingError.invalidField`, a 400 naming the field, what it accepts and
/// what was sent. Nothing here can trap, whatever the client sends (±1e308, 2^64, 30-digit integers, `-0.0`).
///
/// JSON numbers come from `JSONSerialization`, which gives integers as exact 64-bit `NSNumber`s (signed or
/// unsigned), larger integers as `NSDecimalNumber`, anything with a fraction or exponent as a double, and booleans
/// as `NSNumber`s too — told apart here by their Objective-C type code, never by bridging (`1 as? Bool` succeeds).
public enum ClientNumber {
    /// What a JSON value is, as far as numbers go.
    enum Reading: Equatable {
        case signed(Int64)
        case unsigned(UInt64)
        /// A number written with a fraction or an exponent, or an integer too large for 64 bits.
        case real(Double)
        case notANumber
    }

    static func read(_ value: Any) -> Reading {
        guard let number = value as? NSNumber else { return .notANumber }
        if value is NSDecimalNumber { return .real(number.doubleValue) }
        switch String(cString: number.objCType) {
        case "c", "B": return .notANumber   // a JSON true/false
        case "d", "f": return .real(number.doubleValue)
        case "Q", "L", "I", "S", "C": return .unsigned(number.uint64Value)
        default: return .signed(number.int64Value)
        }
    }

    /// An integer in `range`, or nil when the value is absent (or JSON null).
    public static func integer(_ value: Any?, field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value, !(value is NSNull) else { return nil }
        let expected = "an integer in \(range.lowerBound)...\(range.upperBound)"
        let integer: Int?
        switch read(value) {
        case .signed(let number): integer = Int(exactly: number)
        case .unsigned(let number): integer = Int(exactly: number)
        case .real, .notANumber: integer = nil
        }
        guard let integer, range.contains(integer) else { throw invalid(field, value, expected) }
        return integer
    }

    /// Any unsigned 64-bit integer (seeds), or nil when absent. A fraction, an exponent or a negative number is refused.
    public static func uint64(_ value: Any?, field: String) throws -> UInt64? {
        guard let value, !(value is NSNull) else { return nil }
        switch read(value) {
        case .unsigned(let number): return number
        case .signed(let number) where number >= 0: return UInt64(number)
        default: throw invalid(field, value, "an integer in 0...\(UInt64.max)")
        }
    }

    /// A finite number in `range` (integers welcome), or nil when absent. `lowerOpen` excludes the lower bound.
    public static func real(_ value: Any?, field: String, in range: ClosedRange<Double>, lowerOpen: Bool = false) throws -> Double? {
        guard let value, !(value is NSNull) else { return nil }
        let number: Double?
        switch read(value) {
        case .signed(let integer): number = Double(integer)
        case .unsigned(let integer): number = Double(integer)
        case .real(let real): number = real
        case .notANumber: number = nil
        }
        let lower = lowerOpen ? "(\(range.lowerBound)" : "[\(range.lowerBound)"
        guard let number, number.isFinite, range.contains(number), !(lowerOpen && number == range.lowerBound) else {
            throw invalid(field, value, "a number in \(lower), \(range.upperBound)]")
        }
        return number
    }

    /// A true/false, or nil when absent.
    public static func bool(_ value: Any?, field: String) throws -> Bool? {
        guard let value, !(value is NSNull) else { return nil }
        guard let number = value as? NSNumber, ["c", "B"].contains(String(cString: number.objCType)) else {
            throw invalid(field, value, "true or false")
        }
        return number.boolValue
    }

    /// An integer written in decimal in a query parameter or header (`top_k=5`, `X-Deadline-Ms: 250`), or nil when
    /// absent. Leading `+`, spaces, fractions and anything past `Int`'s range are refused.
    public static func integer(text: String?, field: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard text.utf8.count <= 20, text.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) }),
              let integer = Int(text), range.contains(integer) else {
            throw invalid(field, text, "an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return integer
    }

    static func invalid(_ field: String, _ value: Any, _ expected: String) -> ServingError {
        .invalidField(field: field, expected: expected, got: describe(value))
    }

    /// A short rendering of what the client sent, for the error message (never the whole of a 1 MB string).
    static func describe(_ value: Any) -> String {
        let text: String
        switch value {
        case let string as String: text = "the string \"\(string.prefix(40))\(string.count > 40 ? "…" : "")\""
        case is NSNull: text = "null"
        case is [Any]: text = "an array"
        case is [String: Any]: text = "an object"
        default:
            switch read(value) {
            case .notANumber: text = (value as? NSNumber).map { $0.boolValue ? "true" : "false" } ?? "\(type(of: value))"
            case .signed(let number): text = String(number)
            case .unsigned(let number): text = String(number)
            case .real(let number): text = value is NSDecimalNumber ? "\((value as? NSNumber)?.stringValue.prefix(40) ?? "")" : "\(number)"
            }
        }
        return text
    }
}
