@testable import HTTPServer
import XCTest

/// What a parser made of some input: events with body pieces merged, and the error it stopped on, if any.
struct ParseOutcome: Equatable {
    var heads: [HTTPRequestHead] = []
    var bodies: [[UInt8]] = []
    var trailers: [HTTPHeaders] = []
    var error: HTTPParseError?
}

/// Feeds `pieces` in order and drains events after each.
func parse(_ pieces: [ArraySlice<UInt8>], limits: HTTPServerLimits = HTTPServerLimits()) -> ParseOutcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = ParseOutcome()
    do {
        for piece in pieces {
            parser.append(piece)
            while let event = try parser.next() {
                switch event {
                case .head(let head): outcome.heads.append(head); outcome.bodies.append([])
                case .body(let bytes): outcome.bodies[outcome.bodies.count - 1] += bytes
                case .end(let trailers): outcome.trailers.append(trailers)
                }
            }
        }
    } catch {
        outcome.error = error
    }
    return outcome
}

/// Parses `raw` whole, then split in two at every byte boundary, then one byte at a time, and asserts each gives the
/// same outcome. Returns the outcome of the whole input.
@discardableResult
func parseAtEverySplit(_ raw: String, limits: HTTPServerLimits = HTTPServerLimits(), file: StaticString = #filePath, line: UInt = #line) -> ParseOutcome {
    let bytes = Array(raw.utf8)
    let whole = parse([bytes[...]], limits: limits)
    for split in 0...bytes.count {
        let outcome = parse([bytes[..<split], bytes[split...]], limits: limits)
        XCTAssertEqual(outcome, whole, "split at byte \(split)", file: file, line: line)
        if outcome != whole { break }
    }
    let trickled = parse(bytes.indices.map { bytes[$0...$0] }, limits: limits)
    XCTAssertEqual(trickled, whole, "one byte at a time", file: file, line: line)
    return whole
}
