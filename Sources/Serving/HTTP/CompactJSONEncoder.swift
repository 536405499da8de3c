import Foundation

/// Encodes an `Encodable` answer to the same bytes as Foundation's `JSONEncoder` with `[.sortedKeys,
/// .withoutEscapingSlashes]`, several times faster: profiling a classify request showed Foundation's encoder (boxed
/// containers, generic metadata lookups, a second pass through `JSONWriter`) as the largest cost outside the network
/// after the socket calls, and 15 % of the server's time on a probe.
///
/// It writes scalars as text as they come and keeps only objects as trees (their keys are sorted at the end). Types
/// Foundation encodes specially (`Data`, `Date`, `URL`, `Decimal`) and `superEncoder` are not handled: they throw
/// `Unsupported`, and `JSONAnswer` falls back to Foundation, so the output never differs. Non-finite numbers throw, as
/// Foundation's default strategy does.
enum CompactJSONEncoder {
    struct Unsupported: Error {}

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let root = try Node.encoding(value, path: [])
        var out: [UInt8] = []
        out.reserveCapacity(256)
        root.write(to: &out)
        return out
    }

    /// A value being encoded: text already written (scalars, or arrays of them), or an object or array of nodes.
    final class Node {
        enum Content {
            case empty
            case text([UInt8])
            case array([Node])
            /// Members in the order encoded; a key encoded twice keeps its last value, as a dictionary would. A list,
            /// not a dictionary: answers' objects have a handful of keys, and hashing each into a fresh dictionary
            /// (plus its allocation) cost more than sorting the list once when it is written.
            case object([Member])
        }
        var content = Content.empty
        typealias Member = (key: String, value: Node)

        init() {}
        init(_ content: Content) { self.content = content }
        static func text(_ bytes: [UInt8]) -> Node { Node(.text(bytes)) }

        static func encoding<T: Encodable>(_ value: T, path: [any CodingKey]) throws -> Node {
            let node = Node()
            if let text = try scalarText(value) {
                node.content = .text(text)
            } else {
                guard !(value is Data || value is Date || value is URL || value is Decimal) else { throw Unsupported() }
                try value.encode(to: NodeEncoder(node: node, codingPath: path))
                // A value that encoded nothing at all: Foundation writes an empty object.
                if case .empty = node.content { node.content = .object([]) }
            }
            return node
        }

        func write(to out: inout [UInt8]) {
            switch content {
            case .empty: out += "{}".utf8
            case .text(let text): out += text
            case .array(let items):
                out.append(UInt8(ascii: "["))
                for (index, item) in items.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    item.write(to: &out)
                }
                out.append(UInt8(ascii: "]"))
            case .object(let members):
                out.append(UInt8(ascii: "{"))
                // Sorted by key, equal keys in the order encoded, so the last of each is the one kept.
                let sorted = members.indices.sorted { a, b in
                    members[a].key == members[b].key ? a < b : CompactJSONEncoder.keyOrder(members[a].key, members[b].key)
                }
                var first = true
                for (position, index) in sorted.enumerated() {
                    if position + 1 < sorted.count, members[sorted[position + 1]].key == members[index].key { continue }
                    if !first { out.append(UInt8(ascii: ",")) }
                    first = false
                    CompactJSONEncoder.appendString(members[index].key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    members[index].value.write(to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
        }

        func set(_ key: String, _ child: Node) throws {
            switch content {
            case .empty: content = .object([(key, child)])
            case .object(var members):
                content = .empty   // let `members` be the only reference, so the append doesn't copy
                members.append((key, child))
                content = .object(members)
            default: throw Unsupported()
            }
        }

        func append(_ child: Node) throws {
            switch content {
            case .empty: content = .array([child])
            case .array(var items):
                content = .empty
                items.append(child)
                content = .array(items)
            default: throw Unsupported()
            }
        }
    }

    /// Foundation's order for `.sortedKeys`: plain string order ("A_upper" < "a10" < "a9" < "a_b" < "ab", as
    /// `CompactJSONEncoderTests` checks against it).
    static func keyOrder(_ a: String, _ b: String) -> Bool { a < b }

    /// The text of a scalar value, or nil for anything else.
    static func scalarText<T: Encodable>(_ value: T) throws -> [UInt8]? {
        // Containers (arrays, answer structs) are most of what comes here: one comparison of type metadata tells
        // them apart, where the casts below cost a dynamic cast each (ten failed casts per array or struct).
        guard isScalar(T.self) else { return nil }
        switch value {
        case let v as String: return stringText(v)
        case let v as Bool: return Array((v ? "true" : "false").utf8)
        case let v as Int: return Array(String(v).utf8)
        case let v as Int32: return Array(String(v).utf8)
        case let v as Int64: return Array(String(v).utf8)
        case let v as UInt8: return Array(String(v).utf8)
        case let v as UInt32: return Array(String(v).utf8)
        case let v as UInt64: return Array(String(v).utf8)
        case let v as Double: return try number(v.isFinite, v.description)
        case let v as Float: return try number(v.isFinite, v.description)
        default: return nil
        }
    }

    /// Whether `type` is one of the types `scalarText` writes itself (exactly: a subclass or wrapper is not).
    static func isScalar(_ type: Any.Type) -> Bool {
        type == String.self || type == Bool.self || type == Int.self || type == Int32.self || type == Int64.self
            || type == UInt8.self || type == UInt32.self || type == UInt64.self || type == Double.self || type == Float.self
    }

    /// Foundation writes a float's shortest round-trip text without a trailing ".0".
    static func number(_ finite: Bool, _ text: String) throws -> [UInt8] {
        guard finite else { throw EncodingError.invalidValue(text, .init(codingPath: [], debugDescription: "not a finite number")) }
        var bytes = Array(text.utf8)
        if bytes.count > 2, bytes[bytes.count - 2] == UInt8(ascii: "."), bytes[bytes.count - 1] == UInt8(ascii: "0") {
            bytes.removeLast(2)
        }
        return bytes
    }

    static func stringText(_ string: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(string.utf8.count + 2)
        appendString(string, to: &out)
        return out
    }

    /// A JSON string literal as Foundation writes it: quote, backslash and control characters escaped, "/" and
    /// everything else as UTF-8.
    static func appendString(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        // Most strings (names, labels, keys) need no escape: copy those in one go rather than byte by byte.
        let copied: Bool? = string.utf8.withContiguousStorageIfAvailable { bytes in
            guard !bytes.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if copied == true {
            out.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += #"\""#.utf8
            case UInt8(ascii: "\\"): out += #"\\"#.utf8
            case 0x08: out += #"\b"#.utf8
            case 0x0C: out += #"\f"#.utf8
            case 0x0A: out += #"\n"#.utf8
            case 0x0D: out += #"\r"#.utf8
            case 0x09: out += #"\t"#.utf8
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += #"\u00"#.utf8
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

private struct NodeEncoder: Encoder {
    let node: CompactJSONEncoder.Node
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer { UnkeyedContainer(node: node, codingPath: codingPath) }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleValueContainer(node: node, codingPath: codingPath) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: CompactJSONEncoder.Node
    let codingPath: [any CodingKey]

    init(node: CompactJSONEncoder.Node, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
        // `{}` even when nothing is encoded into it.
        if case .empty = node.content { node.content = .object([]) }
    }

    mutating func encodeNil(forKey key: Key) throws {
        let child = CompactJSONEncoder.Node()
        child.content = .text(Array("null".utf8))
        try node.set(key.stringValue, child)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try node.set(key.stringValue, try .encoding(value, path: codingPath + [key]))
    }

    // The element types answers are made of, without the generic path's dynamic casts.
    mutating func encode(_ value: String, forKey key: Key) throws { try node.set(key.stringValue, .text(CompactJSONEncoder.stringText(value))) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try node.set(key.stringValue, .text(Array(String(value).utf8))) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try node.set(key.stringValue, .text(Array((value ? "true" : "false").utf8))) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try node.set(key.stringValue, .text(try CompactJSONEncoder.number(value.isFinite, value.description))) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try node.set(key.stringValue, .text(try CompactJSONEncoder.number(value.isFinite, value.description))) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey> {
        let child = CompactJSONEncoder.Node()
        try? node.set(key.stringValue, child)
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = CompactJSONEncoder.Node()
        child.content = .array([])
        try? node.set(key.stringValue, child)
        return UnkeyedContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { UnsupportedEncoder(codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { UnsupportedEncoder(codingPath: codingPath) }
}

private struct UnkeyedContainer: UnkeyedEncodingContainer {
    let node: CompactJSONEncoder.Node
    let codingPath: [any CodingKey]
    private(set) var count = 0

    init(node: CompactJSONEncoder.Node, codingPath: [any CodingKey]) {
        self.node = node
        self.codingPath = codingPath
        if case .empty = node.content { node.content = .array([]) }
    }

    mutating func encodeNil() throws {
        let child = CompactJSONEncoder.Node()
        child.content = .text(Array("null".utf8))
        try node.append(child)
        count += 1
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try node.append(try .encoding(value, path: codingPath))
        count += 1
    }

    mutating func encode(_ value: String) throws { try append(.text(CompactJSONEncoder.stringText(value))) }
    mutating func encode(_ value: Int) throws { try append(.text(Array(String(value).utf8))) }
    mutating func encode(_ value: Bool) throws { try append(.text(Array((value ? "true" : "false").utf8))) }
    mutating func encode(_ value: Double) throws { try append(.text(try CompactJSONEncoder.number(value.isFinite, value.description))) }
    mutating func encode(_ value: Float) throws { try append(.text(try CompactJSONEncoder.number(value.isFinite, value.description))) }

    private mutating func append(_ node: CompactJSONEncoder.Node) throws {
        try self.node.append(node)
        count += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = CompactJSONEncoder.Node()
        try? node.append(child)
        count += 1
        return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = CompactJSONEncoder.Node()
        try? node.append(child)
        count += 1
        return UnkeyedContainer(node: child, codingPath: codingPath)
    }

    mutating func superEncoder() -> any Encoder { UnsupportedEncoder(codingPath: codingPath) }
}

private struct SingleValueContainer: SingleValueEncodingContainer {
    let node: CompactJSONEncoder.Node
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { node.content = .text(Array("null".utf8)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        node.content = try CompactJSONEncoder.Node.encoding(value, path: codingPath).content
    }
}

/// What `superEncoder` hands out: every use throws, so `JSONAnswer` falls back to Foundation.
private struct UnsupportedEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(ThrowingKeyedContainer<Key>(codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer { ThrowingUnkeyedContainer(codingPath: codingPath) }
    func singleValueContainer() -> any SingleValueEncodingContainer { ThrowingUnkeyedContainer(codingPath: codingPath) }
}

private struct ThrowingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let codingPath: [any CodingKey]
    mutating func encodeNil(forKey key: Key) throws { throw CompactJSONEncoder.Unsupported() }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { throw CompactJSONEncoder.Unsupported() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey> { KeyedEncodingContainer(ThrowingKeyedContainer<NestedKey>(codingPath: codingPath)) }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { ThrowingUnkeyedContainer(codingPath: codingPath) }
    mutating func superEncoder() -> any Encoder { UnsupportedEncoder(codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { UnsupportedEncoder(codingPath: codingPath) }
}

private struct ThrowingUnkeyedContainer: UnkeyedEncodingContainer, SingleValueEncodingContainer {
    let codingPath: [any CodingKey]
    var count: Int { 0 }
    mutating func encodeNil() throws { throw CompactJSONEncoder.Unsupported() }
    mutating func encode<T: Encodable>(_ value: T) throws { throw CompactJSONEncoder.Unsupported() }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        KeyedEncodingContainer(ThrowingKeyedContainer<NestedKey>(codingPath: codingPath))
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { self }
    mutating func superEncoder() -> any Encoder { UnsupportedEncoder(codingPath: codingPath) }
}
