/// The candidates a sampler draws from: the indices of the `keep` largest logits, largest first, equal logits in
/// index order — exactly what a stable sort of every index by descending logit, cut to `keep`, gives (how
/// `TokenSampler` ranked before), without sorting all of them.
///
/// How: each logit becomes one integer key that orders as the ranking does (the float's bits made monotonic above,
/// the index reversed below, so a tie goes to the earlier index and no two keys are equal); a quickselect moves the
/// `keep` largest keys to the front, and only those are sorted. Integer compares on a stack buffer, no closure.
///
/// Why: ranking runs once per token per stream. A closure-compared stable sort of the whole vocabulary (84 indices
/// for the LSTM) was ~5 % of a step-batched server's samples; so was the insertion into a sorted buffer that replaced
/// it (a mispredicted branch per shifted candidate, ~2 µs a token at top_k 20).
enum TokenRanking {
    static func best(_ logits: [Float], count: Int, keep: Int) -> [Int] {
        precondition(count >= 0 && count <= logits.count && keep <= count)
        guard keep > 0 else { return [] }
        return logits.withUnsafeBufferPointer { values in
            // With a NaN, ">" is no strict weak order and the sort's result depends on its algorithm: rank exactly as
            // before, so a stream that meets one still samples what it always did. (So would a vocabulary past the
            // key's 32 index bits, which no model has.)
            var hasNaN = false
            for index in 0..<count where values[index].isNaN { hasNaN = true; break }
            if hasNaN || count > Int(UInt32.max) {
                return Array(Array(0..<count).sorted { values[$0] > values[$1] }.prefix(keep))
            }
            return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { keys in
                for index in 0..<count { keys[index] = key(values[index], index: index) }
                if keep < count { moveLargestToFront(keys, count: keep) }
                var best = UnsafeMutableBufferPointer(rebasing: keys[0..<keep])
                best.sort(by: >)
                return best.map { Int(UInt32.max - UInt32(truncatingIfNeeded: $0)) }
            }
        }
    }

    /// A key that orders as (logit descending, index ascending) does, reversed: larger key, better rank. The float's
    /// bits are made monotonic (negatives flipped, positives above them), with −0 read as +0 since they compare equal.
    private static func key(_ value: Float, index: Int) -> UInt64 {
        let bits = value == 0 ? 0 : value.bitPattern
        let ordered = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
        return UInt64(ordered) << 32 | UInt64(UInt32.max - UInt32(truncatingIfNeeded: index))
    }

    /// Rearranges `keys` (all distinct) so that the `count` largest come first, in no particular order (Hoare's
    /// quickselect, median-of-three pivot).
    private static func moveLargestToFront(_ keys: UnsafeMutableBufferPointer<UInt64>, count: Int) {
        let target = count - 1
        var low = 0, high = keys.count - 1
        while low < high {
            let a = keys[low], b = keys[low + (high - low) / 2], c = keys[high]
            let pivot = max(min(a, b), min(max(a, b), c))
            var i = low, j = high
            while i <= j {
                while keys[i] > pivot { i += 1 }
                while keys[j] < pivot { j -= 1 }
                if i <= j {
                    keys.swapAt(i, j)
                    i += 1
                    j -= 1
                }
            }
            // Now keys[low...j] ≥ pivot ≥ keys[i...high], and anything between them is the pivot itself.
            if target <= j {
                high = j
            } else if target >= i {
                low = i
            } else {
                return
            }
        }
    }
}
