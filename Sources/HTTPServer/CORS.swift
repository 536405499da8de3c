/// Cross-origin resource sharing (the Fetch standard's CORS protocol) for browser pages served from other origins.
/// Off unless configured. A request whose `Origin` is allowed gets `Access-Control-Allow-Origin` on every answer,
/// errors included, so a page can read why it failed; preflight `OPTIONS` requests are answered here, from the
/// router's table, without reaching a handler.
public struct CORSPolicy: Sendable {
    /// Exact origins (`https://app.example.com`), or `*` for any.
    public var allowedOrigins: [String]
    /// How long a browser may cache a preflight answer.
    public var maxAge: Int

    public init(allowedOrigins: [String], maxAge: Int = 600) {
        self.allowedOrigins = allowedOrigins
        self.maxAge = maxAge
    }

    /// Response headers a page may read besides the CORS-safelisted ones.
    static let exposedHeaders = "X-Request-Id, Retry-After, Inference-Header-Content-Length"

    func allows(_ origin: String) -> Bool {
        allowedOrigins.contains("*") || allowedOrigins.contains(origin)
    }

    /// Adds the headers an actual (non-preflight) response needs for a request from `origin`.
    func decorate(_ headers: inout HTTPHeaders, origin: String?) {
        guard let origin, allows(origin) else { return }
        headers.replace(name: "Access-Control-Allow-Origin", value: allowedOrigins.contains("*") ? "*" : origin)
        headers.replace(name: "Access-Control-Expose-Headers", value: Self.exposedHeaders)
        if !allowedOrigins.contains("*") { headers.add(name: "Vary", value: "Origin") }
    }

    /// The answer to a preflight request, or nil when `head` is not one (then it is routed as usual).
    func preflight(_ head: HTTPRequestHead, router: Router) -> HTTPResponse? {
        guard head.method == "OPTIONS", let origin = head.headers["Origin"],
              let method = head.headers["Access-Control-Request-Method"] else { return nil }
        guard allows(origin) else { return HTTPError(.forbidden, "origin \(origin) is not allowed").response }
        switch router.match(method: method, segments: head.pathSegments) {
        case .notFound: return HTTPError(.notFound, "no route for \(head.path)").response
        case .methodNotAllowed(let allow):
            return HTTPError(.methodNotAllowed, "method \(method) not allowed", headers: ["Allow": allow.joined(separator: ", ")]).response
        case .found:
            var headers: HTTPHeaders = ["Access-Control-Allow-Methods": method, "Access-Control-Max-Age": String(maxAge)]
            if let requested = head.headers["Access-Control-Request-Headers"] {
                headers.add(name: "Access-Control-Allow-Headers", value: requested)
            }
            return HTTPResponse(status: .noContent, headers: headers)
        }
    }
}
