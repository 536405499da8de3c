/// IsNaN and IsInf (with detect_positive / detect_negative): float32 or float64 in, bool out.
struct FloatClassification: Operator {
    enum Kind: Sendable { case nan, infinity(positive: Bool, negative: Bool) }
    let kind: Kind

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0)
        try x.expect(.float, .double, role: "input")
        let out = try workspace.allocate(.bool, x.shape)
        let dst = out.pointer(as: UInt8.self)
        for i in 0..<x.count {
            let v = x.int64OrDouble(at: i)
            let hit: Bool
            switch kind {
            case .nan: hit = v.isNaN
            case .infinity(let positive, let negative): hit = v.isInfinite && (v > 0 ? positive : negative)
            }
            dst[i] = hit ? 1 : 0
        }
        return [out]
    }
}
