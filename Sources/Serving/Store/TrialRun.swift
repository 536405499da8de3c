import Engine

/// The run every model gets as it loads, so one that cannot run fails there and not on its first request.
enum TrialRun {
    /// Runs `plan` once on zeros at the shapes its requests will have: each dimension the graph fixes, else the size
    /// config.json's `inputs[].shape` gives it, else 1. A 1 is a safe guess for a batch axis only: an OCR network
    /// with dynamic height and width cannot run at 1 × 1, so when the run fails after such a guess, the error names
    /// the guessed dimensions and where to state their sizes.
    static func run(_ plan: Plan, inputs specs: [ModelConfig.TensorSpec], axes: BatchAxes) throws {
        var feeds: [String: Tensor] = [:]
        var guessed: [String] = []
        for input in plan.inputs {
            let spec = specs.first { $0.name == input.name }
            let rank = input.shape?.count ?? spec?.shape.count ?? 0
            var shape: [Int] = []
            for axis in 0..<rank {
                if let fixed = input.shape?[axis].fixedValue {
                    shape.append(fixed)
                } else if let spec, axis < spec.shape.count, spec.shape[axis] > 0 {
                    shape.append(spec.shape[axis])
                } else {
                    shape.append(1)
                    if axis != axes.input(input.name) { guessed.append("'\(input.name)'[\(axis)]") }
                }
            }
            feeds[input.name] = Tensor.zeros(input.dataType ?? .float, shape: shape)
        }
        do {
            _ = try plan.run(feeds)
        } catch where !guessed.isEmpty {
            throw ModelFolderError("\(error) (the trial run at load gave size 1 to the dynamic dimension"
                                   + "\(guessed.count == 1 ? "" : "s") \(guessed.joined(separator: ", ")); "
                                   + "give the sizes requests will have in config.json's inputs[].shape)")
        }
    }
}
