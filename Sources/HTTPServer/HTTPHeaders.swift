/// An ordered list of header fields; names compare case-insensitively, as RFC 9110 §5.1 says.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name: name, value: value) }
    }

    public var count: Int { fields.count }

    public mutating func add(name: String, value: String) { fields.append((name, value)) }

    /// Replaces every field of this name with one.
    public mutating func replace(name: String, value: String) {
        if contains(name) { remove(name: name) }   // removeAll would rewrite the list even with nothing to remove
        add(name: name, value: value)
    }

    public mutating func remove(name: String) {
        fields.removeAll { Self.namesEqual($0.name, name) }
    }

    /// The first value of the field, if any.
    public subscript(name: String) -> String? {
        fields.first { Self.namesEqual($0.name, name) }?.value
    }

    /// All values of the field, in order.
    public func values(_ name: String) -> [String] {
        fields.filter { Self.namesEqual($0.name, name) }.map(\.value)
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    /// How many fields have this name.
    public func count(of name: String) -> Int {
        var count = 0
        for field in fields where Self.namesEqual(field.name, name) { count += 1 }
        return count
    }

    /// The comma-separated members of every field of this name, trimmed and lowercased (for Connection, TE, ...).
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { trimOWS(Substring($0)).lowercased() }.filter { !$0.isEmpty }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { namesEqual($0.name, $1.name) && $0.value == $1.value }
    }

    /// ASCII case-insensitive comparison without allocating.
    static func namesEqual(_ a: String, _ b: String) -> Bool {
        guard a.utf8.count == b.utf8.count else { return false }
        // Compared in place where both are contiguous (names we parsed or wrote, literals): iterating a zip of the two
        // UTF-8 views was ~0.6 % of a trivial request's CPU, the lookups being several per request.
        let inPlace = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in sameIgnoringASCIICase(x, y) }
        }
        return (inPlace ?? nil) ?? sameIgnoringASCIICase(a.utf8, b.utf8)
    }

    /// Byte by byte, ASCII letters matching either case; the two have the same length.
    private static func sameIgnoringASCIICase<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        for (x, y) in zip(a, b) where x != y {
            guard x | 0x20 == y | 0x20, (x | 0x20) >= 0x61, (x | 0x20) <= 0x7A else { return false }
        }
        return true
    }
}

func trimOWS(_ s: Substring) -> Substring {
    // By bytes: optional whitespace is SP and HTAB (RFC 9110 §5.6.3), and Character comparisons cost grapheme breaking.
    let isOWS = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    guard let first = s.utf8.firstIndex(where: { !isOWS($0) }), let last = s.utf8.lastIndex(where: { !isOWS($0) }) else {
        return s[s.endIndex...]
    }
    // After the last byte kept: the end of a scalar, however many bytes it has.
    return s[first..<s.utf8.index(after: last)]
}
