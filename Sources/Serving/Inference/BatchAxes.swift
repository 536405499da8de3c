/// Which axis of each input and output holds the batch, from config.json's `batch_axis` (checked at load by
/// `ModelInterface`). Batching joins requests' inputs along their axes and splits the outputs along theirs; a
/// tensor the config does not list keeps the batch on axis 0, except a recurrent model's tokens and logits, whose
/// `recurrent.layout` says where it is when no `batch_axis` does ("time-first": [T, N], axis 1).
struct BatchAxes: Sendable, Equatable {
    private var inputs: [String: Int] = [:]
    private var outputs: [String: Int] = [:]

    /// Axis 0 everywhere (a component plan, which config.json does not describe).
    init() {}

    init(_ config: ModelConfig) {
        if let recurrent = config.recurrent, recurrent.layout == "time-first" {
            inputs[recurrent.tokenInput] = 1
            outputs[recurrent.logitsOutput] = 1
        }
        for spec in config.inputs { if let axis = spec.batchAxis { inputs[spec.name] = axis } }
        for spec in config.outputs { if let axis = spec.batchAxis { outputs[spec.name] = axis } }
    }

    func input(_ name: String) -> Int { inputs[name] ?? 0 }
    func output(_ name: String) -> Int { outputs[name] ?? 0 }
}
