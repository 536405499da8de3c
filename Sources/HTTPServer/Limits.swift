/// Every limit the server enforces, each with a default and the status a client gets when it crosses it.
public struct HTTPServerLimits: Sendable {
    /// Longest request line (method, target, version), in bytes. Crossing it: 414 URI Too Long.
    public var maxRequestLineLength = 8 * 1024
    /// Largest header section (all field lines, and trailers), in bytes. Crossing it: 431.
    public var maxHeaderSectionSize = 32 * 1024
    /// Most header fields (and trailer fields) in one request. Crossing it: 431.
    public var maxHeaderCount = 100
    /// Default largest request body (after gzip decoding), in bytes; a route may set its own. Crossing it: 413.
    public var maxBodySize = 1024 * 1024
    /// Longest chunk-size line in a chunked body (size plus extensions). Crossing it: 400.
    public var maxChunkLineLength = 1024
    /// Time to receive a whole request head once its first byte arrived. Crossing it: 408, then close.
    public var headerReadTimeout: Duration = .seconds(10)
    /// Longest pause between two pieces of a request body. Crossing it: 408, then close.
    public var bodyIdleTimeout: Duration = .seconds(30)
    /// Time a TLS client has to finish its handshake, counted from the connection's start however the bytes trickle
    /// in. Crossing it: close.
    public var tlsHandshakeTimeout: Duration = .seconds(10)
    /// Time an idle keep-alive connection may wait for its next request before we close it (no response).
    public var keepAliveIdleTimeout: Duration = .seconds(60)
    /// Longest time a response may sit unsent because the client doesn't read. Crossing it: close.
    public var writeIdleTimeout: Duration = .seconds(30)
    /// Most connections open at once; one more is answered 503 and closed.
    public var maxConnections = 4096
    /// Bytes of response waiting in our buffer beyond which a streaming handler is made to wait (back-pressure).
    public var writeBufferHighWatermark = 256 * 1024

    public init() {}
}
