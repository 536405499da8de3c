/// The candidates a sampler draws from: the indices of the `keep` largest logits, largest first, equal logits in
/// index order — exactly what a stable sort of every index by descending logit, cut to `keep`, gives (how
/// `TokenSampler` ranked before), without sorting all of them.
///
/// Why: ranking ran once per token per stream, and a closure-compared stable sort of the whole vocabulary (84
/// indices for the LSTM, 2 allocations and ~600 indirect comparisons) was ~5 % of a step-batched server's samples,
/// more than gathering and scattering the batch. Keeping the best `keep` in a small sorted buffer touches most
/// logits once (one comparison with the current `keep`-th best).
enum TokenRanking {
    static func best(_ logits: [Float], count: Int, keep: Int) -> [Int] {
        precondition(count >= 0 && count <= logits.count && keep <= count)
        guard keep > 0 else { return [] }
        return logits.withUnsafeBufferPointer { values in
            // With a NaN, ">" is no strict weak order and the sort's result depends on its algorithm: rank exactly as
            // before, so a stream that meets one still samples what it always did.
            if values[0..<count].contains(where: \.isNaN) {
                return Array(Array(0..<count).sorted { values[$0] > values[$1] }.prefix(keep))
            }
            return [Int](unsafeUninitializedCapacity: keep) { order, initialized in
                var filled = 0
                for index in 0..<count {
                    let value = values[index]
                    // Full, and no better than the worst kept: an equal one comes later in index order, so it
                    // would rank after it and be cut.
                    if filled == keep, value <= values[order[keep - 1]] { continue }
                    // Insert after every kept logit at least as large (stable: an earlier index wins a tie).
                    var position = filled == keep ? keep - 1 : filled
                    while position > 0, values[order[position - 1]] < value {
                        order[position] = order[position - 1]
                        position -= 1
                    }
                    order[position] = index
                    if filled < keep { filled += 1 }
                }
                initialized = filled
            }
        }
    }
}
