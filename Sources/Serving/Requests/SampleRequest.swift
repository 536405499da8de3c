import Foundation

/// A `sample` body: which latent vectors to draw images from.
enum SampleRequest {
    /// Latent vectors from explicit values, an interpolation between two seeds, or `count` draws from a seed.
    static func latents(_ body: [String: Any], dimension: Int) throws -> [[Float]] {
        if let given = body["latent"], !(given is NSNull) {
            guard let rows = given as? [[Any]], !rows.isEmpty, rows.count <= 64, rows.allSatisfy({ $0.count == dimension }) else {
                throw ServingError.invalidField(field: "latent", expected: "1 to 64 lists of \(dimension) numbers", got: ClientNumber.describe(given))
            }
            return try rows.enumerated().map { row, values in
                try values.enumerated().map { column, value in
                    let field = "latent[\(row)][\(column)]"
                    guard let number = try ClientNumber.real(value, field: field, in: -1e6...1e6) else {
                        throw ClientNumber.invalid(field, value, "a number in [-1e6, 1e6]")
                    }
                    return Float(number)
                }
            }
        }
        if let interpolation = body["interpolate"], !(interpolation is NSNull) {
            guard let spec = interpolation as? [String: Any], let from = try ClientNumber.uint64(spec["from"], field: "interpolate.from"),
                  let to = try ClientNumber.uint64(spec["to"], field: "interpolate.to") else {
                throw ServingError.badRequest(#""interpolate" needs "from" and "to" seeds (and optional "steps")"#)
            }
            let steps = try ClientNumber.integer(spec["steps"], field: "interpolate.steps", in: 2...64) ?? 8
            let a = gaussian(seed: from, count: dimension), b = gaussian(seed: to, count: dimension)
            return (0..<steps).map { step in
                let t = Float(step) / Float(steps - 1)
                return zip(a, b).map { (1 - t) * $0 + t * $1 }
            }
        }
        let count = try ClientNumber.integer(body["count"], field: "count", in: 1...64) ?? 1
        let seed = try ClientNumber.uint64(body["seed"], field: "seed") ?? UInt64.random(in: 0...UInt64.max)
        let values = gaussian(seed: seed, count: count * dimension)
        return (0..<count).map { Array(values[($0 * dimension)..<(($0 + 1) * dimension)]) }
    }

    /// Standard normal draws (Box–Muller) from a seeded generator: the same seed, the same digits.
    static func gaussian(seed: UInt64, count: Int) -> [Float] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            let u = max(random.nextUnit(), 1e-12), v = random.nextUnit()
            return Float((-2 * Foundation.log(u)).squareRoot() * cos(2 * Double.pi * v))
        }
    }
}
