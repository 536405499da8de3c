import Engine

/// The one request path every protocol shares: find the model version, check the request against it, queue it on
/// the scheduler, count it, and hand back the outputs asked for. Adapters only translate wire formats to and from
/// `InferenceRequest`/`InferenceResult` and render `ServingFailure`s.
struct InferenceCore: Sendable {
    let repository: ModelRepository
    let scheduler: InferenceScheduler
    let metrics: ServingMetrics

    /// The loaded version `version` (nil or empty: the highest serving) of `name`, or the one its version label
    /// `label` names; with `task`, one whose config.json names that task (the task endpoints).
    func model(_ name: String, version: String?, label: String? = nil, task: String? = nil) throws -> LoadedModel {
        let model = try label.map { try repository.model(named: name, label: $0) } ?? repository.model(named: name, version: version)
        if let task, model.config.task != task {
            throw ServingError.badRequest("model '\(name)' has task \(model.config.task ?? "none"), not \(task)")
        }
        return model
    }

    /// The queue-and-run deadline of a request that names none.
    var defaultDeadline: Duration { scheduler.settings.defaultDeadline }

    func infer(_ request: InferenceRequest) async throws -> InferenceResult {
        let model = try model(request.model, version: request.version)
        return try await infer(request, on: model)
    }

    /// Runs `request` on `model` (already resolved, for adapters that needed it to decode the request).
    func infer(_ request: InferenceRequest, on model: LoadedModel) async throws -> InferenceResult {
        var inputs: [String: Tensor] = [:]
        for input in request.inputs {
            guard inputs.updateValue(input.tensor, forKey: input.name) == nil else {
                throw ServingError.badRequest("input '\(input.name.prefix(128))' is given twice")
            }
        }
        return try await run(model, inputs: inputs, outputs: request.outputs, deadline: request.deadline,
                             batchable: request.batchable, id: request.id)
    }

    /// Runs `inputs` (by name: their order does not matter to a model) on `model`: what `infer` does once a request's
    /// inputs are named, and what the task endpoints and generation steps call, which build their inputs that way and
    /// have the model in hand. `outputs`: those wanted, in the order wanted (nil: every output, in the model's order);
    /// `batchable: false` keeps the scheduler from merging it with other requests (a lane's step is a batch already).
    func run(_ model: LoadedModel, inputs: [String: Tensor], outputs: [String]? = nil, deadline: Duration?,
             batchable: Bool = true, id: String? = nil) async throws -> InferenceResult {
        let declared = model.plan.outputs.map(\.name)
        let wanted = outputs ?? declared
        for name in wanted where !declared.contains(name) {
            throw ServingError.badRequest("requested output '\(name.prefix(128))' is not an output of '\(model.name)' (it has \(declared.joined(separator: ", ")))")
        }
        let (produced, timing) = try await scheduler.infer(model, inputs: inputs, deadline: deadline, batchable: batchable)
        metrics.recordInference(model: model.name, timing: timing)
        let named = try wanted.map { name in
            guard let tensor = produced[name] else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "the plan did not produce output '\(name)'")
            }
            return NamedTensor(name: name, tensor: tensor)
        }
        return InferenceResult(model: model.name, version: model.version, id: id, outputs: named, timing: timing)
    }

    /// Inputs and outputs with their element types and shapes (-1 for a dimension of variable size), as every
    /// protocol's metadata call reports them.
    func metadata(of model: LoadedModel) -> ModelMetadata {
        ModelMetadata(name: model.name, versions: repository.versions(of: model.name), platform: "onnx",
                      inputs: model.plan.inputs.map(ModelMetadata.TensorSpec.init), outputs: model.plan.outputs.map(ModelMetadata.TensorSpec.init))
    }
}

extension ModelMetadata.TensorSpec {
    /// A graph input's or output's declaration, protocol-neutral.
    init(_ value: ValueInfo) {
        self.init(name: value.name, datatype: value.dataType, typeName: value.onnxTypeName,
                  shape: (value.shape ?? []).map { $0.fixedValue ?? -1 })
    }
}

