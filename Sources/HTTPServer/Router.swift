/// Routes by method and path pattern; `{name}` segments capture a parameter. Unknown path: 404; known path, other
/// method: 405 with `Allow`. HEAD is served by the GET route (the body is dropped by the connection).
///
/// A parameter may carry a literal suffix, Google's custom-method style (AIP-136) that TensorFlow Serving uses:
/// `/v1/models/{name}:predict` captures `mnist` from `mnist:predict`. A `:` in a segment separates a resource from
/// such a verb, so a plain `{name}` never captures a segment that holds one: `/v1/models/mnist:predict` is the
/// suffixed route's alone, and `Allow` lists only its methods.
public struct Router: Sendable {
    struct Route: Sendable {
        enum Segment: Sendable, Equatable { case literal(String), parameter(String, suffix: String) }
        enum Handler: Sendable {
            case immediate(HTTPImmediateHandler)
            case task(HTTPHandler)
        }
        let method: String
        let segments: [Segment]
        let maxBodySize: Int?
        let precheck: HTTPPrecheck?
        let handler: Handler
    }

    enum Match {
        case found(Route, parameters: [String: String])
        case methodNotAllowed(allow: [String])
        case notFound
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds a route. `maxBodySize` overrides the server's default body limit for it; `precheck` vets the head before
    /// any of the body is read or 100 Continue is sent (see `HTTPPrecheck`).
    public mutating func add(_ method: String, _ pattern: String, maxBodySize: Int? = nil, precheck: HTTPPrecheck? = nil,
                             _ handler: @escaping HTTPHandler) {
        add(method, pattern, maxBodySize: maxBodySize, precheck: precheck, handler: .task(handler))
    }

    /// Adds a route whose handler answers at once (see `HTTPImmediateHandler`).
    public mutating func addImmediate(_ method: String, _ pattern: String, _ handler: @escaping HTTPImmediateHandler) {
        add(method, pattern, maxBodySize: nil, precheck: nil, handler: .immediate(handler))
    }

    private mutating func add(_ method: String, _ pattern: String, maxBodySize: Int?, precheck: HTTPPrecheck?, handler: Route.Handler) {
        let segments = pattern.split(separator: "/").map { part -> Route.Segment in
            guard part.hasPrefix("{"), let close = part.firstIndex(of: "}") else { return .literal(String(part)) }
            return .parameter(String(part[part.index(after: part.startIndex)..<close]), suffix: String(part[part.index(after: close)...]))
        }
        routes.append(Route(method: method, segments: segments, maxBodySize: maxBodySize, precheck: precheck, handler: handler))
    }

    public mutating func getImmediate(_ pattern: String, _ handler: @escaping HTTPImmediateHandler) {
        addImmediate("GET", pattern, handler)
    }

    public mutating func get(_ pattern: String, _ handler: @escaping HTTPHandler) { add("GET", pattern, handler) }
    public mutating func post(_ pattern: String, maxBodySize: Int? = nil, precheck: HTTPPrecheck? = nil,
                              _ handler: @escaping HTTPHandler) {
        add("POST", pattern, maxBodySize: maxBodySize, precheck: precheck, handler)
    }

    func match(method: String, segments: [String]) -> Match {
        var allowed: [String] = []
        for route in routes {
            guard let parameters = Self.bind(route.segments, to: segments) else { continue }
            if route.method == method || (method == "HEAD" && route.method == "GET") {
                return .found(route, parameters: parameters)
            }
            allowed.append(route.method)
            if route.method == "GET" { allowed.append("HEAD") }
        }
        if allowed.isEmpty { return .notFound }
        var seen = Set<String>()
        return .methodNotAllowed(allow: allowed.filter { seen.insert($0).inserted })
    }

    private static func bind(_ pattern: [Route.Segment], to segments: [String]) -> [String: String]? {
        guard pattern.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (part, segment) in zip(pattern, segments) {
            switch part {
            case .literal(let literal): guard literal == segment else { return nil }
            case .parameter(let name, let suffix):
                if suffix.isEmpty {
                    // Bytes, not `contains(":")`: that one is Foundation's substring search, and the profile of a
                    // classify request found it the router's largest cost (it runs for every parameter route tried).
                    guard !segment.utf8.contains(UInt8(ascii: ":")) else { return nil }
                    parameters[name] = segment
                } else {
                    guard segment.hasSuffix(suffix), segment.count > suffix.count else { return nil }
                    parameters[name] = String(segment.dropLast(suffix.count))
                }
            }
        }
        return parameters
    }
}
