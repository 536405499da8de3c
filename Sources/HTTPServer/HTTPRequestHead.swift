/// The request line and header fields of one request, as the parser read them, with the facts derived from them.
public struct HTTPRequestHead: Sendable, Equatable {
    /// How the body is delimited (RFC 9112 §6.3).
    public enum BodyFraming: Sendable, Equatable {
        case none
        case contentLength(Int)
        case chunked
    }

    public var method: String
    /// The request target exactly as sent (still percent-encoded).
    public var target: String
    /// The path, percent-decoded.
    public var path: String
    /// The path's segments, each percent-decoded on its own (so an encoded `/` stays inside its segment).
    public var pathSegments: [String]
    /// Query parameters in order, percent-decoded, `+` read as a space.
    public var queryItems: [(name: String, value: String)]
    /// HTTP minor version: 0 or 1.
    public var minorVersion: Int
    public var headers: HTTPHeaders
    public var framing: BodyFraming
    /// Whether the connection may carry another request after this one.
    public var keepAlive: Bool
    /// The client sent `Expect: 100-continue` and waits for our go-ahead before sending the body.
    public var expectsContinue: Bool

    /// The first value of a query parameter.
    public func query(_ name: String) -> String? { queryItems.first { $0.name == name }?.value }

    public static func == (lhs: HTTPRequestHead, rhs: HTTPRequestHead) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.path == rhs.path
            && lhs.pathSegments == rhs.pathSegments && lhs.minorVersion == rhs.minorVersion
            && lhs.queryItems.map(\.name) == rhs.queryItems.map(\.name)
            && lhs.queryItems.map(\.value) == rhs.queryItems.map(\.value)
            && lhs.headers == rhs.headers && lhs.framing == rhs.framing && lhs.keepAlive == rhs.keepAlive
            && lhs.expectsContinue == rhs.expectsContinue
    }
}
