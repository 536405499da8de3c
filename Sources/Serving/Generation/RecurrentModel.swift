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
        var state: [String: Tensor] = [:]
        for entry in recurrent.state {
            guard let next = outputs[entry.output] else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce state output '\(entry.output)'")
            }
            state[entry.input] = next
        }
        guard let logits = outputs[recurrent.logitsOutput] else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "the model did not produce '\(recurrent.logitsOutput)'")
        }
        let values = logits.floatArray()
        guard !values.isEmpty else {
            throw ServingError.modelMisconfigured(model: model.name, reason: "'\(recurrent.logitsOutput)' is empty")
        }
        return (state, Array(values.suffix(vocabulary.count)))
    }

    /// Several streams' step inputs joined into one batch along each input's batch axis (streams in order).
    func batch(_ streams: [[String: Tensor]]) throws -> [String: Tensor] {
        streams.count == 1 ? streams[0] : try InferenceScheduler.concatenate(streams, axes: model.batchAxes)
    }

    /// Runs one step (`inputs` of one stream, or a batch of them) through the inference core, as every request runs;
    /// `batchable: false` keeps the scheduler from merging it with other requests (a lane's step is a batch already).
    func step(_ inputs: [String: Tensor], on core: InferenceCore, deadline: Duration?, batchable: Bool = true) async throws -> InferenceResult {
        try await core.infer(InferenceRequest(model: model, inputs: inputs, deadline: deadline, batchable: batchable), on: model)
    }

    /// A batch's outputs cut back into one set per stream, along each output's batch axis.
    func unbatch(_ outputs: [String: Tensor], streams: Int) throws -> [[String: Tensor]] {
        streams == 1 ? [outputs] : try InferenceScheduler.split(outputs, rows: Array(repeating: 1, count: streams),
                                                                axes: model.batchAxes, model: model.name)
    }
}
