import Engine

/// The one request path every protocol shares: find the model version, check the request against it, queue it on
/// the scheduler, count it, and hand back the outputs asked for. Adapters only translate wire formats to and from
/// `InferenceRequest`/`InferenceResult` and render `ServingFailure`s.
struct InferenceCore: Sendable {
    let repository: ModelRepository
    let scheduler: InferenceScheduler
    let metrics: ServingMetrics

    /// The loaded version `version` (nil or empty: the highest serving) of `name`.
    func model(_ name: String, version: String?) throws -> LoadedModel {
        try repository.model(named: name, version: version)
    }

    func infer(_ request: InferenceRequest) async throws -> InferenceResult {
        let model = try model(request.model, version: request.version)
        return try await infer(request, on: model)
    }

    /// Runs `request` on `model` (already resolved, for adapters that needed it to decode the request).
    func infer(_ request: InferenceRequest, on model: LoadedModel) async throws -> InferenceResult {
        let declared = model.plan.outputs.map(\.name)
        let wanted = request.outputs ?? declared
        for name in wanted where !declared.contains(name) {
            throw ServingError.badRequest("requested output '\(name.prefix(128))' is not an output of '\(model.name)' (it has \(declared.joined(separator: ", ")))")
        }
        var inputs: [String: Tensor] = [:]
        for input in request.inputs {
            guard inputs.updateValue(input.tensor, forKey: input.name) == nil else {
                throw ServingError.badRequest("input '\(input.name.prefix(128))' is given twice")
            }
        }
        let (outputs, timing) = try await scheduler.infer(model, inputs: inputs, deadline: request.deadline)
        metrics.recordInference(model: model.name, timing: timing)
        let named = try wanted.map { name in
            guard let tensor = outputs[name] else {
                throw ServingError.modelMisconfigured(model: model.name, reason: "the plan did not produce output '\(name)'")
            }
            return NamedTensor(name: name, tensor: tensor)
        }
        return InferenceResult(model: model.name, version: model.version, id: request.id, outputs: named, timing: timing)
    }

    /// Inputs and outputs with their element types and shapes (-1 for a dimension of variable size), as every
    /// protocol's metadata call reports them.
    func metadata(of model: LoadedModel) -> ModelMetadata {
        func specs(_ values: [ValueInfo]) -> [ModelMetadata.TensorSpec] {
            values.map { value in
                .init(name: value.name, datatype: value.dataType, shape: (value.shape ?? []).map { $0.fixedValue ?? -1 })
            }
        }
        return ModelMetadata(name: model.name, versions: repository.versions(of: model.name), platform: "onnx",
                             inputs: specs(model.plan.inputs), outputs: specs(model.plan.outputs))
    }
}

/// A model version's interface, protocol-neutral.
struct ModelMetadata: Sendable {
    struct TensorSpec: Sendable {
        let name: String
        /// nil when the graph declares a type the engine does not support.
        let datatype: DataType?
        let shape: [Int]
    }

    let name: String
    /// The versions serving, highest first.
    let versions: [Int]
    let platform: String
    let inputs: [TensorSpec]
    let outputs: [TensorSpec]
}
