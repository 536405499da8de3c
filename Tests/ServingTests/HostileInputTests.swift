import Foundation
import XCTest
@testable import Serving

/// Drives every JSON endpoint of a live server the way an attacker would: for every field that `openapi.yaml`
/// declares in a request body (so a new field is covered without touching this file), each of a list of hostile
/// values — numbers at and past every integer range, NaN/Infinity tokens, wrong types, huge arrays, deep nesting,
/// lone surrogates, 1 MB strings — plus hostile path parameters, queries, headers and binary framing. After every
/// request the answer must be a 2xx, a 4xx with a JSON error body, or 503/504; and the server must still be live.
final class HostileInputTests: XCTestCase {
    func testNoRequestStopsTheServerOrGetsAnUndocumentedAnswer() async throws {
        let service = try LiveService()
        var probe = Probe(port: service.port)
        let spec = try Self.openAPIDocument()
        let baselines = try Self.baselines()
        var operations = 0
        for (template, schema) in try Self.jsonBodies(spec) {
            guard let cases = baselines[template] else {
                XCTFail("\(template) takes a JSON body: give it a baseline in HostileInputTests.baselines")
                continue
            }
            operations += 1
            for baseline in cases {
                let fields = Self.fieldPaths(schema, spec: spec)
                XCTAssertFalse(fields.isEmpty, "\(template) declares no fields")
                // The baseline itself must succeed, or the mutations below prove nothing.
                let ok = try probe.send("POST", baseline.path, body: baseline.body.render())
                XCTAssertTrue((200..<300).contains(ok.status), "baseline of \(baseline.path): \(ok.status) \(ok.body.prefix(300))")
                for field in fields {
                    for value in Self.hostileValues(for: field) {
                        try probe.send("POST", baseline.path, body: baseline.body.replacing(field, with: .raw(value)).render(),
                                       what: "\(baseline.path) \(Self.render(field)) = \(value.prefix(60))")
                    }
                }
                for body in Self.hostileBodies {
                    try probe.send("POST", baseline.path, body: body, what: "\(baseline.path) body \(body.prefix(40))")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(operations, 5, "generate, sample, classify, reconstruct and infer take JSON")

        // Path parameters, query parameters and headers.
        for name in ["..", "%2e%2e", "%2e%2e%2fetc", String(repeating: "a", count: 300), "%00", "mnist-cnn%2f..", "no-such", "%ff%fe"] {
            try probe.send("GET", "/v2/models/\(name)", body: "", what: "model name \(name.prefix(20))")
            try probe.send("POST", "/v2/models/\(name)/infer", body: #"{"inputs":[]}"#, what: "infer on \(name.prefix(20))")
        }
        for version in ["0", "-1", "2", "99999999999999999999", "1e3", "0x1", "%20", "1.0", String(repeating: "9", count: 400)] {
            try probe.send("GET", "/v2/models/mnist-cnn/versions/\(version)", body: "", what: "version \(version.prefix(20))")
            try probe.send("POST", "/v2/models/mnist-gan/versions/\(version)/infer", body: baselines["/v2/models/{name}/infer"]?[0].body.render() ?? "",
                           what: "infer version \(version.prefix(20))")
        }
        let classify = baselines["/v1/models/{name}/classify"]?[0].body.render() ?? ""
        for value in Self.hostileIntegerTexts {
            try probe.send("POST", "/v1/models/mnist-cnn/classify?top_k=\(value)", body: classify, what: "top_k=\(value)")
            try probe.send("POST", "/v1/models/mnist-gan/sample?timeout_ms=\(value)", body: #"{"seed":1}"#, what: "timeout_ms=\(value)")
            try probe.send("POST", "/v1/models/mnist-gan/sample", body: #"{"seed":1}"#, headers: ["X-Deadline-Ms": value],
                           what: "X-Deadline-Ms: \(value)")
            try probe.send("POST", "/v2/models/mnist-gan/infer", body: #"{"inputs":[]}"#,
                           headers: ["Inference-Header-Content-Length": value, "Content-Type": "application/octet-stream"],
                           what: "Inference-Header-Content-Length: \(value)")
        }

        // Triton's binary framing with sizes that lie.
        for (claimed, sent) in [(256, 100), (256, 300), (0, 256), (-1, 0), (Int(Int32.max), 256)] {
            let header = #"{"inputs":[{"name":"latent","shape":[1,64],"datatype":"FP32","parameters":{"binary_data_size":\#(claimed)}}]}"#
            let body = Array(header.utf8) + [UInt8](repeating: 0x3F, count: sent)
            try probe.send("POST", "/v2/models/mnist-gan/infer", bodyBytes: body,
                           headers: ["Inference-Header-Content-Length": String(header.utf8.count), "Content-Type": "application/octet-stream"],
                           what: "binary claimed \(claimed) sent \(sent)")
        }
        await service.stop()
        XCTAssertGreaterThan(probe.requests, 1000, "the hostile cases ran")
        XCTAssertEqual(probe.failures, [], "answers outside the policy")
        print("hostile input: \(probe.requests) requests, each followed by /health/live; \(probe.failures.count) outside the policy")
    }

    /// Tensors with a zero dimension pass every size check (their element count is 0) and reach the engine: each must be
    /// answered — an empty result or a 4xx — promptly, whatever the other dimensions claim, and not hold a worker.
    func testZeroSizedTensorsAreAnsweredPromptly() async throws {
        let service = try LiveService()
        var probe = Probe(port: service.port)
        let state = { (batch: Int) in
            #"{"name":"h0","shape":[2,\#(batch),256],"datatype":"FP32","data":[]},{"name":"c0","shape":[2,\#(batch),256],"datatype":"FP32","data":[]}"#
        }
        let cases: [(String, String)] = [
            ("mnist-gan", #"{"inputs":[{"name":"latent","shape":[0,64],"datatype":"FP32","data":[]}]}"#),
            ("mnist-autoencoder", #"{"inputs":[{"name":"image","shape":[0,1,28,28],"datatype":"FP32","data":[]}]}"#),
            ("mnist-cnn", #"{"inputs":[{"name":"image","shape":[0,1,28,28],"datatype":"FP32","data":[]}]}"#),
            ("shakespeare-lstm", #"{"inputs":[{"name":"tokens","shape":[0,2147483647],"datatype":"INT64","data":[]},\#(state(0))]}"#),
            ("shakespeare-lstm", #"{"inputs":[{"name":"tokens","shape":[1,0],"datatype":"INT64","data":[]},\#(state(1).replacingOccurrences(of: "\"data\":[]", with: "\"data\":[" + Array(repeating: "0", count: 512).joined(separator: ",") + "]"))]}"#),
        ]
        for (model, body) in cases {
            let start = Date()
            try probe.send("POST", "/v2/models/\(model)/infer", body: body, headers: ["X-Deadline-Ms": "2000"], what: "\(model) \(body.prefix(80))")
            let seconds = Date().timeIntervalSince(start)
            XCTAssertLessThan(seconds, 10, "\(model): a request that carries no data must not hold a worker (\(seconds) s)")
        }
        // Binary framing too: zero bytes for a zero-sized batch.
        let header = #"{"inputs":[{"name":"latent","shape":[0,64],"datatype":"FP32","parameters":{"binary_data_size":0}}]}"#
        try probe.send("POST", "/v2/models/mnist-gan/infer", bodyBytes: Array(header.utf8),
                       headers: ["Inference-Header-Content-Length": String(header.utf8.count), "Content-Type": "application/octet-stream"],
                       what: "binary batch of 0")
        await service.stop()
        XCTAssertEqual(probe.failures, [], "answers outside the policy")
    }

    /// A 400 KB LSTM request with 200,000 time steps would need gigabytes of intermediates: it is refused (413) by the
    /// per-request memory cap before they exist, so the process's peak resident memory barely moves, and nothing stays.
    func testARequestNeedingGigabytesIsRefusedWithoutTakingThem() async throws {
        let service = try LiveService()
        var probe = Probe(port: service.port)
        let steps = 200_000
        let zeros = "[" + Array(repeating: "0", count: 512).joined(separator: ",") + "]"
        let body = #"{"inputs":[{"name":"tokens","shape":[1,\#(steps)],"datatype":"INT64","data":[\#(Array(repeating: "1", count: steps).joined(separator: ","))]},"#
            + #"{"name":"h0","shape":[2,1,256],"datatype":"FP32","data":\#(zeros)},{"name":"c0","shape":[2,1,256],"datatype":"FP32","data":\#(zeros)}]}"#
        XCTAssertLessThan(body.utf8.count, 1 << 20, "fits the default body limit")
        try Self.resetPeakResident()
        let before = try Self.peakResident()
        let answer = try probe.send("POST", "/v2/models/shakespeare-lstm/infer", body: body, what: "LSTM with \(steps) steps")
        let peak = try Self.peakResident()
        await service.stop()
        XCTAssertEqual(answer.status, 413, answer.body)
        XCTAssertTrue(answer.body.contains("more than the server allows"), answer.body)
        XCTAssertEqual(probe.failures, [])
        print("LSTM T=\(steps): peak resident \(before >> 20) → \(peak >> 20) MiB")
        XCTAssertLessThan(peak - before, 400 << 20, "peak resident memory grew \((peak - before) >> 20) MiB for one refused request")
    }

    /// Linux resets VmHWM (peak resident) when "5" is written to /proc/self/clear_refs.
    static func resetPeakResident() throws {
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    static func peakResident() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else {
            throw POSIXError(.ENOENT)
        }
        return kib << 10
    }

    // MARK: What is sent

    /// Hostile JSON texts for a field (raw: some aren't JSON that Foundation could write, such as NaN or 2^64).
    static func hostileValues(for field: [PathStep]) -> [String] {
        var values = hostileNumbers + ["NaN", "Infinity", "-Infinity", #""x""#, "null", "true", "false", "[]", "{}", "[1,2,3]",
                                       #"[["a"]]"#, #""\ud800""#, #""\udfff\ud800""#, "\"" + String(repeating: "x", count: 1 << 20) + "\"",
                                       "[" + Array(repeating: "1", count: 100_000).joined(separator: ",") + "]",
                                       String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)]
        if case .key("shape")? = field.last {
            values += ["[0,2147483647]", "[2147483647,0]", "[-1,64]", "[0,64]", "[1,0]", "[9223372036854775807,2]",
                       "[4294967296,4294967296]", "[1,64,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]", "[1.5,64]", "[1e300,64]"]
        }
        if case .key("datatype")? = field.last {
            values += ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP32", "FP64", "FP16",
                       "BF16", "BYTES", "fp32", ""].map { "\"\($0)\"" }
        }
        return values
    }

    static let hostileNumbers = ["1e19", "-1e19", "1e308", "-1e308", "9223372036854775807", "9223372036854775808",
                                 "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
                                 "123456789012345678901234567890", "-123456789012345678901234567890", "1e-400", "-0.0", "0", "-1",
                                 "2147483647", "2147483648", "4294967296", "0.5", "1.0", "4000", "4001"]

    static let hostileIntegerTexts = ["0", "-1", "1e3", "99999999999999999999", "9223372036854775808", "abc", "", "+5", "5.0",
                                      "%00", "600001", "1"]

    static let hostileBodies = ["", "[]", "null", "{", "{\"a\":", "\"x\"", "{}", String(repeating: "{\"a\":", count: 100_000),
                                String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), "\u{0}",
                                "{\"prompt\":\"\\ud800\"}", String(repeating: " ", count: 70_000)]

    /// A request to start from: a path with the model filled in and a body that succeeds.
    struct Baseline {
        var path: String
        var body: JSONText
    }

    /// Valid bodies for each JSON operation, by path template (the shipped models).
    static func baselines() throws -> [String: [Baseline]] {
        let png = try Data(contentsOf: ServingEndToEndTests.heldout.appendingPathComponent("000.png")).base64EncodedString()
        let latent = JSONText.object([("inputs", .array([.object([
            ("name", .raw(#""latent""#)), ("shape", .raw("[1,64]")), ("datatype", .raw(#""FP32""#)),
            ("data", .raw("[" + Array(repeating: "0.5", count: 64).joined(separator: ",") + "]")),
        ])])), ("outputs", .array([.object([("name", .raw(#""image""#)), ("parameters", .object([("binary_data", .raw("false"))]))])])),
            ("parameters", .object([("binary_data_output", .raw("false"))])), ("id", .raw(#""r1""#))])
        let state = "[" + Array(repeating: "0", count: 512).joined(separator: ",") + "]"
        let tokens = JSONText.object([("inputs", .array([
            .object([("name", .raw(#""tokens""#)), ("shape", .raw("[1,3]")), ("datatype", .raw(#""INT64""#)), ("data", .raw("[1,2,3]"))]),
            .object([("name", .raw(#""h0""#)), ("shape", .raw("[2,1,256]")), ("datatype", .raw(#""FP32""#)), ("data", .raw(state))]),
            .object([("name", .raw(#""c0""#)), ("shape", .raw("[2,1,256]")), ("datatype", .raw(#""FP32""#)), ("data", .raw(state))]),
        ]))])
        let row = "[" + Array(repeating: "0.5", count: 64).joined(separator: ",") + "]"
        let predict = [Baseline(path: "/v1/models/mnist-gan:predict", body: .object([("instances", .array([.raw(row)]))])),
                       Baseline(path: "/v1/models/mnist-gan:predict", body: .object([
                           ("signature_name", .raw(#""serving_default""#)), ("inputs", .object([("latent", .array([.raw(row)]))]))]))]
        let infer = [Baseline(path: "/v2/models/mnist-gan/infer", body: latent),
                     Baseline(path: "/v2/models/shakespeare-lstm/infer", body: tokens)]
        return [
            "/v1/models/{name}/generate": [Baseline(path: "/v1/models/shakespeare-lstm/generate", body: .object([
                ("prompt", .raw(#""To be""#)), ("max_tokens", .raw("2")), ("temperature", .raw("0.8")), ("top_k", .raw("5")),
                ("top_p", .raw("0.9")), ("seed", .raw("7")), ("stop", .raw(#"["\n"]"#)), ("stream", .raw("false")),
            ]))],
            "/v1/models/{name}/sample": [
                Baseline(path: "/v1/models/mnist-gan/sample", body: .object([("count", .raw("1")), ("seed", .raw("1"))])),
                Baseline(path: "/v1/models/mnist-gan/sample", body: .object([
                    ("interpolate", .object([("from", .raw("1")), ("to", .raw("2")), ("steps", .raw("2"))]))])),
                Baseline(path: "/v1/models/mnist-gan/sample", body: .object([
                    ("latent", .array([.raw("[" + Array(repeating: "0.1", count: 64).joined(separator: ",") + "]")]))])),
            ],
            "/v1/models/{name}/classify": [Baseline(path: "/v1/models/mnist-cnn/classify", body: .object([("image", .raw("\"\(png)\""))])),
                                           Baseline(path: "/v1/models/mnist-cnn/classify", body: .object([("images", .array([.raw("\"\(png)\"")]))]))],
            "/v1/models/{name}/reconstruct": [Baseline(path: "/v1/models/mnist-autoencoder/reconstruct", body: .object([("image", .raw("\"\(png)\""))]))],
            "/v2/models/{name}/infer": infer,
            "/v1/models/{name}:predict": predict,
            "/v1/models/{name}/versions/{version}:predict": predict.map {
                Baseline(path: $0.path.replacingOccurrences(of: ":predict", with: "/versions/1:predict"), body: $0.body)
            },
            "/v1/models/{name}/labels/{label}:predict": predict.map {   // mnist-gan ships the label "stable" for version 1
                Baseline(path: $0.path.replacingOccurrences(of: ":predict", with: "/labels/stable:predict"), body: $0.body)
            },
            "/v2/models/{name}/versions/{version}/infer": infer.map { Baseline(path: $0.path.replacingOccurrences(of: "/infer", with: "/versions/1/infer"), body: $0.body) },
        ]
    }

    // MARK: openapi.yaml

    static func openAPIDocument() throws -> [String: Any] {
        let (status, output) = try LiveService.run([
            "python3", "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", OpenAPITests.spec.path,
        ])
        XCTAssertEqual(status, 0, output)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    }

    /// Every POST operation that takes `application/json`, with its body schema.
    static func jsonBodies(_ spec: [String: Any]) throws -> [(String, [String: Any])] {
        let paths = try XCTUnwrap(spec["paths"] as? [String: Any])
        return paths.keys.sorted().compactMap { template in
            guard let post = (paths[template] as? [String: Any])?["post"] as? [String: Any],
                  var body = post["requestBody"] as? [String: Any] else { return nil }
            body = resolve(body, spec)
            guard let schema = ((body["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
            else { return nil }
            return (template, resolve(schema, spec))
        }
    }

    static func resolve(_ schema: [String: Any], _ spec: [String: Any]) -> [String: Any] {
        guard let reference = schema["$ref"] as? String, reference.hasPrefix("#/") else { return schema }
        var node: Any = spec
        for part in reference.dropFirst(2).split(separator: "/") { node = (node as? [String: Any])?[String(part)] ?? [:] }
        return resolve(node as? [String: Any] ?? [:], spec)
    }

    /// Every field a schema declares, nested objects and array items (index 0) included.
    static func fieldPaths(_ schema: [String: Any], spec: [String: Any], prefix: [PathStep] = [], depth: Int = 0) -> [[PathStep]] {
        let schema = resolve(schema, spec)
        guard depth < 6 else { return [] }
        var paths: [[PathStep]] = []
        if let properties = schema["properties"] as? [String: Any] {
            for name in properties.keys.sorted() {
                let path = prefix + [.key(name)]
                paths.append(path)
                paths += fieldPaths(properties[name] as? [String: Any] ?? [:], spec: spec, prefix: path, depth: depth + 1)
            }
        }
        if let items = schema["items"] as? [String: Any], !prefix.isEmpty {
            paths += fieldPaths(items, spec: spec, prefix: prefix + [.index(0)], depth: depth + 1)
        }
        return paths
    }

    static func render(_ path: [PathStep]) -> String {
        path.map { step in
            switch step {
            case .key(let key): ".\(key)"
            case .index(let index): "[\(index)]"
            }
        }.joined()
    }
}

enum PathStep {
    case key(String)
    case index(Int)
}

/// A JSON body built from raw pieces, so values JSONSerialization can't write (NaN, 2^64) can be sent.
indirect enum JSONText {
    case raw(String)
    case object([(String, JSONText)])
    case array([JSONText])

    func render() -> String {
        switch self {
        case .raw(let text): text
        case .object(let members): "{" + members.map { "\"\($0.0)\":" + $0.1.render() }.joined(separator: ",") + "}"
        case .array(let elements): "[" + elements.map { $0.render() }.joined(separator: ",") + "]"
        }
    }

    /// This body with the value at `path` replaced (a missing key is added; a missing array element leaves it as is).
    func replacing(_ path: [PathStep], with value: JSONText) -> JSONText {
        guard let step = path.first else { return value }
        let rest = Array(path.dropFirst())
        switch (self, step) {
        case (.object(var members), .key(let key)):
            if let index = members.firstIndex(where: { $0.0 == key }) {
                members[index].1 = members[index].1.replacing(rest, with: value)
            } else {
                members.append((key, JSONText.object([]).replacing(rest, with: value)))
            }
            return .object(members)
        case (.array(var elements), .index(let index)) where index < elements.count:
            elements[index] = elements[index].replacing(rest, with: value)
            return .array(elements)
        default:
            return self
        }
    }
}

/// Sends one request per connection, then checks the answer against the error policy and that the server is live.
struct Probe {
    let port: Int
    var requests = 0
    var failures: [String] = []

    @discardableResult
    mutating func send(_ method: String, _ path: String, body: String, headers: [String: String] = [:], what: String = "")
        throws -> (status: Int, body: String)
    {
        try send(method, path, bodyBytes: Array(body.utf8), headers: headers, what: what)
    }

    @discardableResult
    mutating func send(_ method: String, _ path: String, bodyBytes: [UInt8], headers: [String: String] = [:], what: String)
        throws -> (status: Int, body: String)
    {
        requests += 1
        var headers = headers
        if headers["Content-Type"] == nil { headers["Content-Type"] = "application/json" }
        let answer: (status: Int, headers: [String: String], body: String)
        do {
            answer = try ServingEndToEndTests.request(method, path, bodyBytes: bodyBytes, headers: headers, port: port)
        } catch {
            failures.append("\(what): no answer (\(error))")
            try checkLive(after: what)
            return (0, "")
        }
        let status = answer.status
        if (200..<300).contains(status) || status == 503 || status == 504 {
            // fine
        } else if (400..<500).contains(status) {
            let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
            if !(object?["error"] is String) { failures.append("\(what): \(status) without a JSON error body: \(answer.body.prefix(200))") }
        } else {
            failures.append("\(what): \(status) \(answer.body.prefix(200))")
        }
        try checkLive(after: what)
        return (status, answer.body)
    }

    private mutating func checkLive(after what: String) throws {
        let live = try ServingEndToEndTests.request("GET", "/health/live", bodyBytes: [], headers: [:], port: port)
        guard live.status == 200 else {
            failures.append("after \(what): /health/live answered \(live.status)")
            throw POSIXError(.ECONNREFUSED)
        }
    }
}
