/// A parsed Einsum equation: per input term its labels in order (`ellipsis` where "..." stands),
/// and the explicit output term, if any. Labels are the letters' ASCII codes.
struct EinsumEquation: Sendable {
    static let ellipsis = -1
    let terms: [[Int]]
    let output: [Int]?

    init(_ text: String) throws {
        let compact = text.filter { !$0.isWhitespace }
        let sides = compact.components(separatedBy: "->")
        guard sides.count <= 2 else { throw KernelError("'\(text)' has more than one '->'") }
        terms = try sides[0].split(separator: ",", omittingEmptySubsequences: false).map { try Self.labels(String($0)) }
        output = try sides.count == 2 ? Self.labels(sides[1]) : nil
        if let output {
            let letters = output.filter { $0 != Self.ellipsis }
            guard Set(letters).count == letters.count else { throw KernelError("'\(text)' repeats a label in its output") }
            let known = Set(terms.joined())
            guard output.allSatisfy({ known.contains($0) }) else { throw KernelError("'\(text)' has an output label that no input has") }
        }
    }

    private static func labels(_ term: String) throws -> [Int] {
        var result: [Int] = [], dots = 0
        for scalar in term.unicodeScalars {
            if scalar == "." {
                dots += 1
                guard dots <= 3 else { throw KernelError("term '\(term)' has more than one '...'") }
                if dots == 3 { result.append(ellipsis) }
            } else {
                guard scalar.isASCII, ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar), dots == 0 || dots == 3 else {
                    throw KernelError("term '\(term)' may hold only letters and one '...'")
                }
                result.append(Int(scalar.value))
            }
        }
        guard dots == 0 || dots == 3 else { throw KernelError("term '\(term)' has a '.' outside '...'") }
        return result
    }

    /// The loop over output axes then summed axes, with each input's element stride per loop axis
    /// (repeated labels add their strides: a diagonal; broadcast axes of size 1 step by 0).
    struct LoopPlan {
        var outputSizes: [Int] = []
        var summedSizes: [Int] = []
        var strides: [[Int]] = []
        /// The labels behind the sizes above, and each input's label per axis ("..." expanded).
        var outputLabels: [Int] = []
        var summedLabels: [Int] = []
        var axisLabels: [[Int]] = []
        var sizes: [Int: Int] = [:]
    }

    func resolve(_ shapes: [[Int]]) throws -> LoopPlan {
        // Where each input's "..." stands in a shared, right-aligned run of broadcast axes (labels 128 + k).
        var ellipsisRanks: [Int] = []
        for (term, shape) in zip(terms, shapes) {
            let letters = term.filter { $0 != Self.ellipsis }.count
            let rank = term.contains(Self.ellipsis) ? shape.count - letters : 0
            guard rank >= 0, term.contains(Self.ellipsis) || shape.count == letters else {
                throw KernelError("input of shape \(shape) does not fit term with \(letters) labels")
            }
            ellipsisRanks.append(rank)
        }
        let broadcastRank = ellipsisRanks.max() ?? 0
        var sizes: [Int: Int] = [:], axisLabels: [[Int]] = []
        for (index, (term, shape)) in zip(terms, shapes).enumerated() {
            var labels: [Int] = []
            for label in term {
                if label == Self.ellipsis {
                    labels += (0..<ellipsisRanks[index]).map { 128 + broadcastRank - ellipsisRanks[index] + $0 }
                } else {
                    labels.append(label)
                }
            }
            for (label, size) in zip(labels, shape) {
                guard let known = sizes[label] else { sizes[label] = size; continue }
                if known == size { continue }
                guard label >= 128, known == 1 || size == 1 else {
                    throw KernelError("label sizes disagree: \(known) and \(size) in input \(index) of shape \(shape)")
                }
                sizes[label] = known == 1 ? size : known
            }
            axisLabels.append(labels)
        }
        let broadcastLabels = (0..<broadcastRank).map { 128 + $0 }
        var outputLabels: [Int]
        if let output {
            outputLabels = output.flatMap { $0 == Self.ellipsis ? broadcastLabels : [$0] }
        } else {
            let all = terms.joined().filter { $0 != Self.ellipsis }
            outputLabels = broadcastLabels + Set(all).filter { label in all.filter { $0 == label }.count == 1 }.sorted()
        }
        let summedLabels = Set(axisLabels.joined()).subtracting(outputLabels).sorted()
        var plan = LoopPlan()
        (plan.outputLabels, plan.summedLabels, plan.axisLabels, plan.sizes) = (outputLabels, summedLabels, axisLabels, sizes)
        plan.outputSizes = outputLabels.map { sizes[$0] ?? 1 }
        plan.summedSizes = summedLabels.map { sizes[$0] ?? 1 }
        let outputCount = try checkedElementCount(plan.outputSizes)
        if outputCount > 0, !plan.summedSizes.contains(0) {
            var work = outputCount
            for size in plan.summedSizes {
                let (product, overflow) = work.multipliedReportingOverflow(by: size)
                guard !overflow, product <= maximumShapeVolume else { throw KernelError("the equation sums over more elements than can be counted") }
                work = product
            }
        }
        for (labels, shape) in zip(axisLabels, shapes) {
            let contiguous = contiguousStrides(shape)
            plan.strides.append((outputLabels + summedLabels).map { label in
                var stride = 0
                for (axis, axisLabel) in labels.enumerated() where axisLabel == label && shape[axis] != 1 { stride += contiguous[axis] }
                return stride
            })
        }
        return plan
    }
}
