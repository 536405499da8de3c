import Engine

/// A text-generation model as its steps see it: which inputs take the tokens and the state, which outputs give the
/// logits and the next state, and where each holds the batch (config.json's `recurrent` and `batch_axis`).
struct RecurrentModel: Sendable {
    let model: LoadedModel
    let recurrent: ModelConfig.Recurrent
    let vocabulary: [String]

    init(_ model: LoadedModel) throws {
        guard let recurrent = model.config.recurrent, let vocabulary = model.vocabulary else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "config.json lacks \"recurrent\" or a vocabulary")
        }
        self.model = model
        self.recurrent = recurrent
        self.vocabulary = vocabulary
    }

    /// One stream's start state: zeros, with 1 for the batch and any other dynamic dimension.
    func initialState() throws -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for entry in recurrent.state {
            guard let info = model.plan.inputs.first(where: { $0.name == entry.input }) else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "config names unknown state input '\(entry.input)'")
            }
            state[entry.input] = Tensor.zeros(.float, shape: (info.shape ?? []).map { $0.fixedValue ?? 1 })
        }
        return state
    }

    /// One stream's inputs for a step: `ids` as [1, T] ([T, 1] time-first) with its state.
    func inputs(_ ids: [Int], state: [String: Tensor]) -> [String: Tensor] {
        let timeMajor = recurrent.layout == "time-first"
        var inputs = state
        inputs[recurrent.tokenInput] = Tensor(shape: timeMajor ? [ids.count, 1] : [1, ids.count], int64s: ids.map(Int64.init))
        return inputs
    }

    /// One stream's outputs of a step: its next state, and the logits of the last position.
    func read(_ outputs: [String: Tensor]) throws -> (state: [String: Tensor], logits: [Float]) {
        let state = try stateOutputs(outputs)
        guard let logits = outputs[recurrent.logitsOutput] else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce '\(recurrent.logitsOutput)'")
        }
        let values = logits.floatArray()
        guard !values.isEmpty else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "'\(recurrent.logitsOutput)' is empty")
        }
        return (state, Array(values.suffix(vocabulary.count)))
    }

    /// The next tokens of `tokens.count` streams as one step's token input: one position each, the streams along the
    /// token input's batch axis ([N, 1] batch-first, [1, N] time-first).
    func tokenBatch(_ tokens: [Int]) throws -> Tensor {
        let axis = model.batchAxes.input(recurrent.tokenInput)
        guard axis < 2 else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the token input's batch axis \(axis) is not 0 or 1")
        }
        var shape = [1, 1]
        shape[axis] = tokens.count
        return Tensor(shape: shape, int64s: tokens.map(Int64.init))
    }

    /// A batched step's next state (its state outputs under their input names), checked to hold `streams` along each
    /// one's batch axis, so that the next step can read it as it is.
    func nextState(_ outputs: [String: Tensor], streams: Int) throws -> [String: Tensor] {
        let state = try stateOutputs(outputs)
        for entry in recurrent.state {
            guard let next = state[entry.input] else { continue }   // stateOutputs set every entry's
            let axis = model.batchAxes.output(entry.output)
            guard axis < next.rank, next.shape[axis] == streams else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "state output '\(entry.output)' of shape \(next.shape) does not hold \(streams) streams along axis \(axis)")
            }
        }
        return state
    }

    /// A step's state outputs, under the names of the state inputs they feed next.
    private func stateOutputs(_ outputs: [String: Tensor]) throws -> [String: Tensor] {
        var state: [String: Tensor] = [:]
        for entry in recurrent.state {
            guard let next = outputs[entry.output] else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce state output '\(entry.output)'")
            }
            state[entry.input] = next
        }
        return state
    }

    /// Each stream's logits of the last position, from a batched step's outputs (streams in order).
    func logitRows(_ outputs: [String: Tensor], streams: Int) throws -> [[Float]] {
        guard let logits = outputs[recurrent.logitsOutput] else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce '\(recurrent.logitsOutput)'")
        }
        let axis = model.batchAxes.output(recurrent.logitsOutput)
        guard axis < logits.rank, logits.shape[axis] == streams, logits.dataType == .float else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "'\(recurrent.logitsOutput)' of \(logits.dataType) \(logits.shape) does not hold float logits of \(streams) streams along axis \(axis)")
        }
        let perStream = logits.count / max(1, streams)
        guard perStream >= vocabulary.count, vocabulary.count > 0 else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "'\(recurrent.logitsOutput)' has \(perStream) values per stream for a vocabulary of \(vocabulary.count)")
        }
        // Batch on the leading axis (the usual case): each stream's values are one run of the buffer, read in place.
        if logits.shape[..<axis].allSatisfy({ $0 == 1 }) {
            return logits.withUnsafeBuffer(of: Float.self) { values in
                (0..<streams).map { row in Array(values[(row + 1) * perStream - vocabulary.count ..< (row + 1) * perStream]) }
            }
        }
        return (0..<streams).map { row in Array(logits.slice(row..<(row + 1), axis: axis).floatArray().suffix(vocabulary.count)) }
    }

    /// A batched state cut back into one state per stream (the lane's members changed).
    func unbatchState(_ state: [String: Tensor], streams: Int) throws -> [[String: Tensor]] {
        guard streams > 1 else { return [state] }
        var parts = Array(repeating: [String: Tensor](), count: streams)
        for entry in recurrent.state {
            guard let tensor = state[entry.input] else { continue }
            let axis = model.batchAxes.input(entry.input)
            for row in 0..<streams { parts[row][entry.input] = tensor.slice(row..<(row + 1), axis: axis) }
        }
        return parts
    }

    /// Several streams' step inputs joined into one batch along each input's batch axis (streams in order).
    func batch(_ streams: [[String: Tensor]]) throws -> [String: Tensor] {
        streams.count == 1 ? streams[0] : try InferenceScheduler.concatenate(streams, axes: model.batchAxes)
    }

    /// Runs one step (`inputs` of one stream, or a batch of them) through the inference core, as every request runs;
    /// `batchable: false` keeps the scheduler from merging it with other requests (a lane's step is a batch already).
    func step(_ inputs: [String: Tensor], on core: InferenceCore, deadline: Duration?, batchable: Bool = true) async throws -> InferenceResult {
        try await core.run(model, inputs: inputs, deadline: deadline, batchable: batchable)
    }
}
