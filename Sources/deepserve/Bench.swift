import ArgumentParser
import Dispatch
import Engine
import Serving
import Foundation

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure a model's latency and throughput on random inputs.",
        discussion: """
            Each thread runs the same compiled plan with its own workspace, as the server's workers do.
            Latency is per run; throughput counts samples (runs × batch) per second over all threads.
            """)

    @Argument(help: "Path to a .onnx file.")
    var model: String

    @Option(help: "Size of every symbolic (dynamic) dimension that --dim, --shape or --input don't set.")
    var batch = 1

    @OptionGroup(title: "Inputs")
    var inputOptions: InputOptions

    @Option(help: "Threads running the model at once.")
    var threads = 1

    @Option(help: "Threads each run splits its kernels over (intra-op parallelism).")
    var intraOpThreads = 1

    @Option(help: "Timed runs per thread.")
    var runs = 100

    @Option(help: "Untimed runs per thread before measuring.")
    var warmup = 10

    @Flag(help: "Print one JSON object instead of text (for bench/ scripts).")
    var json = false

    @Flag(help: "Also print time per operator type (single thread).")
    var profile = false

    @Option(help: "With --profile, how many of the slowest nodes to list (with their time in ms per run).")
    var slowest = 8

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard slowest >= 0 else { throw ValidationError("--slowest must be at least 0") }
        guard (1...256).contains(intraOpThreads) else { throw ValidationError("--intra-op-threads must be in 1...256") }
        guard runs >= 1, warmup >= 0 else { throw ValidationError("--runs must be at least 1 and --warmup not negative") }
    }

    func run() throws {
        let plan = try Plan(contentsOf: URL(fileURLWithPath: model))
        let inputs = try randomInputs(plan)
        // Samples per run: the leading dimension of the inputs as resolved (--batch, --dim, --shape or the .npy files).
        let batch = plan.inputs.first.flatMap { inputs[$0.name]?.shape.first } ?? self.batch
        let latencies = LatencyLog()
        let failure = FailureBox()
        let wallStart = DispatchTime.now().uptimeNanoseconds
        let limits = RunLimits(threads: intraOpThreads)
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            let workspace = Workspace()
            do {
                for _ in 0..<warmup { _ = try plan.run(inputs, workspace: workspace, limits: limits) }
                var local: [Double] = []
                for _ in 0..<runs {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try plan.run(inputs, workspace: workspace, limits: limits)
                    local.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                }
                latencies.append(local)
            } catch {
                failure.set(error)
            }
        }
        if let error = failure.error { throw error }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - wallStart) / 1e9
        let sorted = latencies.values.sorted()
        let median = sorted[sorted.count / 2], p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
        // Throughput over the timed runs only: total timed work divided by the threads sharing it.
        let timedSeconds = sorted.reduce(0, +) / 1000 / Double(threads)
        let throughput = Double(runs * threads * batch) / timedSeconds
        if json {
            let fields = ["\"model\": \"\(model)\"", "\"batch\": \(batch)", "\"threads\": \(threads)", "\"intra_op_threads\": \(intraOpThreads)", "\"runs\": \(runs)",
                          "\"median_ms\": \(median)", "\"min_ms\": \(sorted[0])", "\"p90_ms\": \(p90)", "\"throughput_per_s\": \(throughput)",
                          "\"wall_s\": \(wall)"]
            print("{" + fields.joined(separator: ", ") + "}")
        } else {
            let intraOp = intraOpThreads > 1 ? " × \(intraOpThreads) intra-op" : ""
            print("model: \(model)  batch \(batch), \(threads) thread(s)\(intraOp), \(runs) runs each after \(warmup) warm-up")
            print(String(format: "latency: median %.3f ms, p90 %.3f ms", median, p90))
            print(String(format: "throughput: %.1f samples/s", throughput))
        }
        if profile { try printProfile(plan, inputs) }
    }

    /// Deterministic random inputs of the resolved shapes (integers in 0..<16: valid token ids for most models),
    /// or the .npy files given.
    private func randomInputs(_ plan: Plan) throws -> [String: Tensor] {
        var generator = SplitMix64(seed: 42)
        return try inputOptions.tensors(for: plan, fallback: batch) { info, shape in
            let count = shape.reduce(1, *)
            return switch info.dataType ?? .float {
            case .int64: Tensor(shape: shape, int64s: (0..<count).map { _ in Int64(generator.next() % 16) })
            case .int32: Tensor(shape: shape, int32s: (0..<count).map { _ in Int32(generator.next() % 16) })
            case .float: Tensor(shape: shape, floats: (0..<count).map { _ in Float(generator.nextUnit()) })
            default: Tensor.zeros(info.dataType ?? .float, shape: shape)
            }
        }
    }

    private func printProfile(_ plan: Plan, _ inputs: [String: Tensor]) throws {
        var totals: [String: (seconds: Double, count: Int)] = [:]
        var nodes: [String: (seconds: Double, shapes: String)] = [:]
        let workspace = Workspace()
        let profiledRuns = max(1, min(runs, 50))
        for _ in 0..<profiledRuns {
            _ = try plan.trace(inputs, workspace: workspace) { record in
                totals[record.opType, default: (0, 0)].seconds += record.seconds
                totals[record.opType, default: (0, 0)].count += 1
                let key = "\(record.opType) \(record.name)"
                nodes[key, default: (0, "")].seconds += record.seconds
                nodes[key]!.shapes = "\(record.inputShapes.compactMap { $0 }) → \(record.outputShapes)"
            }
        }
        let nodeTotal = nodes.values.reduce(0) { $0 + $1.seconds }
        print("slowest nodes:")
        for (node, value) in nodes.sorted(by: { $0.value.seconds > $1.value.seconds }).prefix(slowest) {
            print(String(format: "  %5.1f %%  %8.3f ms  ", 100 * value.seconds / nodeTotal, 1000 * value.seconds / Double(profiledRuns))
                  + node + "  " + value.shapes)
        }
        let all = totals.values.reduce(0) { $0 + $1.seconds }
        print("time per operator type:")
        for (op, value) in totals.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            print("  " + op.padding(toLength: 28, withPad: " ", startingAt: 0)
                  + String(format: "%6.1f %%  (%d calls)", 100 * value.seconds / all, value.count))
        }
    }
}

/// Per-thread latencies gathered from concurrentPerform.
private final class LatencyLog: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Double] = []
    func append(_ more: [Double]) { lock.withLock { values += more } }
}

private final class FailureBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ error: Error) { lock.withLock { self.error = error } }
}
