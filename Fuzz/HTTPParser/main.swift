// libFuzzer entry for HTTPRequestParser: feeds the input whole and, split at a point taken from its first byte, in two
// pieces, and checks both give the same events or the same error (the parser's split-invariance), under small limits.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequestParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    var limits = HTTPServerLimits()
    limits.maxRequestLineLength = 256
    limits.maxHeaderSectionSize = 512
    limits.maxHeaderCount = 16
    limits.maxBodySize = 1024
    let whole = run([bytes[...]], limits)
    if let first = bytes.first, bytes.count > 1 {
        let split = Int(first) % bytes.count
        let pieces = run([bytes[..<split], bytes[split...]], limits)
        precondition(pieces == whole, "split at \(split) changed the outcome")
    }
    return 0
}

private struct Outcome: Equatable {
    var events: [String] = []
    var error: HTTPParseError?
}

private func run(_ pieces: [ArraySlice<UInt8>], _ limits: HTTPServerLimits) -> Outcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = Outcome()
    var body: [UInt8] = []
    do {
        for piece in pieces {
            parser.append(piece)
            while let event = try parser.next() {
                switch event {
                case .head(let head): outcome.events.append("head \(head.method) \(head.path) \(head.framing) \(head.headers.count)")
                case .body(let bytes):
                    precondition(!bytes.isEmpty, "empty body event")
                    body += bytes
                    precondition(body.count <= limits.maxBodySize, "body past its limit")
                case .end(let trailers):
                    outcome.events.append("end \(body.count) \(trailers.count)")
                    body = []
                }
            }
        }
    } catch {
        outcome.error = error
    }
    return outcome
}
