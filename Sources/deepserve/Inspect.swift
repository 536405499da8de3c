import ArgumentParser
import Engine
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Describe an ONNX model: inputs, outputs, operators, parameters, estimated FLOPs.")

    @Argument(help: "Path to a .onnx file.")
    var model: String

    @Option(help: "Size of every symbolic dimension that --dim, --shape or --input don't set, when tracing shapes.")
    var dynamicSize = 1

    @OptionGroup(title: "Inputs")
    var inputOptions: InputOptions

    func run() throws {
        let url = URL(fileURLWithPath: model)
        let summary = try ModelSummary(contentsOf: url)
        print("model: \(model)")
        print("producer: \(summary.producer.isEmpty ? "unknown" : summary.producer), IR version \(summary.irVersion), opsets "
              + summary.opsets.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }.joined(separator: ", "))
        print("inputs:")
        for input in summary.inputs { print("  \(input)") }
        print("outputs:")
        for output in summary.outputs { print("  \(output)") }
        print("parameters: \(summary.parameterCount.formatted()) (\(formatBytes(summary.parameterBytes)))")
        print("operators (\(summary.operatorCounts.values.reduce(0, +)) nodes):")
        for (op, count) in summary.operatorCounts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            print("  \(op.padding(toLength: 24, withPad: " ", startingAt: 0)) \(count)")
        }
        guard summary.unsupportedOperators.isEmpty else {
            print("unsupported operators: \(summary.unsupportedOperators.joined(separator: ", "))")
            throw ExitCode(2)
        }
        print("unsupported operators: none")

        let plan = try Plan(contentsOf: url)
        printStaticShapes(plan)
        var flops = 0.0
        var fused: [String] = []
        let inputs = try inputOptions.tensors(for: plan, fallback: dynamicSize) { info, shape in
            Tensor.zeros(info.dataType ?? .float, shape: shape)
        }
        let outputs = try plan.trace(inputs) { record in
            flops += record.estimatedFLOPs
            if record.opType.contains("+") { fused.append(record.opType) }
        }
        print("compiled: \(plan.stepCount) steps after constant folding and fusion"
              + (fused.isEmpty ? "" : " (fused: \(Dictionary(grouping: fused, by: { $0 }).map { "\($0.key) ×\($0.value.count)" }.sorted().joined(separator: ", ")))"))
        let described = inputs.keys.sorted().map { "\($0) \(inputs[$0]?.shape ?? [])" }.joined(separator: ", ")
        print("output shapes for inputs \(described):")
        for output in plan.outputs { print("  \(output.name): \(outputs[output.name]?.shape ?? [])") }
        print("estimated FLOPs per run at that size: \(formatCount(flops))")
    }
}

/// The outputs as static shape inference finds them from the declared inputs, before any run: named dimensions stay
/// named, and the steps whose operators have no shape rule are listed.
private func printStaticShapes(_ plan: Plan) {
    var ruleless: [String] = []
    do {
        let facts = try plan.inferFacts { step in if !step.hasRule { ruleless.append(step.opType) } }
        print("output shapes inferred from the declared inputs (no run):")
        for output in plan.outputs { print("  \(output.name): \(facts[output.name] ?? .unknown)") }
        if !ruleless.isEmpty {
            print("  (no shape rule, outputs unknown: \(Set(ruleless).sorted().joined(separator: ", ")))")
        }
    } catch {
        print("output shapes inferred from the declared inputs: none, \(error)")
    }
}

func formatBytes(_ bytes: Int) -> String {
    let value = Double(bytes)
    if bytes >= 1 << 20 { return String(format: "%.1f MiB", value / Double(1 << 20)) }
    if bytes >= 1 << 10 { return String(format: "%.1f KiB", value / Double(1 << 10)) }
    return "\(bytes) B"
}

func formatCount(_ value: Double) -> String {
    if value >= 1e9 { return String(format: "%.2f G", value / 1e9) }
    if value >= 1e6 { return String(format: "%.2f M", value / 1e6) }
    if value >= 1e3 { return String(format: "%.1f k", value / 1e3) }
    return String(format: "%.0f", value)
}
