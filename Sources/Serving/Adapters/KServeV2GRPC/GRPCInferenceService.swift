import Engine
import Foundation
import GRPCCore
import InferenceGRPC
import Logging

/// KServe V2 / Open Inference Protocol over gRPC (`inference.GRPCInferenceService`), with Triton's repository
/// extension: a thin adapter from protobuf messages to `InferenceCore` and back.
///
/// Implemented at the `ServiceProtocol` level (not the simple one) because two things live in call metadata: the
/// control token of the repository methods (`authorization: Bearer …`, as the HTTP control API takes it) and the
/// call's timeout (`grpc-timeout`), which becomes the request's deadline.
struct GRPCInferenceService: Inference_GRPCInferenceService.ServiceProtocol {
    let core: InferenceCore
    /// Streamed text generation (ModelStreamInfer on a text-generation model; see `GRPCInferenceService+Stream`).
    let generator: TextGenerator
    /// The HTTP control API's token; nil: the repository methods answer UNIMPLEMENTED, as the routes don't exist.
    let adminToken: String?
    let logger: Logger
    var repository: ModelRepository { core.repository }

    func serverLive(request: ServerRequest<Inference_ServerLiveRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_ServerLiveResponse> {
        var answer = Inference_ServerLiveResponse()
        answer.live = true
        return ServerResponse(message: answer)
    }

    func serverReady(request: ServerRequest<Inference_ServerReadyRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_ServerReadyResponse> {
        var answer = Inference_ServerReadyResponse()
        answer.ready = repository.isReady
        return ServerResponse(message: answer)
    }

    func modelReady(request: ServerRequest<Inference_ModelReadyRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_ModelReadyResponse> {
        try await GRPCCall.run(request, context.descriptor.method) {
            var answer = Inference_ModelReadyResponse()
            do {
                _ = try core.model(request.message.name, version: request.message.version)
                answer.ready = true
            } catch ServingError.modelNotFound, ServingError.versionNotFound {
                // Triton answers an unknown model with ready = false, not an error; tritonclient expects that.
                answer.ready = false
            }
            return answer
        }
    }

    func serverMetadata(request: ServerRequest<Inference_ServerMetadataRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_ServerMetadataResponse> {
        var answer = Inference_ServerMetadataResponse()
        answer.name = "deepserve"
        answer.version = ServingService.version
        // The repository extension exists only with an admin token; binary tensors over gRPC are raw contents.
        answer.extensions = adminToken == nil ? [] : ["model_repository"]
        return ServerResponse(message: answer)
    }

    func modelMetadata(request: ServerRequest<Inference_ModelMetadataRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_ModelMetadataResponse> {
        try await GRPCCall.run(request, context.descriptor.method) {
            let metadata = core.metadata(of: try core.model(request.message.name, version: request.message.version))
            func specs(_ values: [ModelMetadata.TensorSpec]) -> [Inference_ModelMetadataResponse.TensorMetadata] {
                values.map { value in
                    var spec = Inference_ModelMetadataResponse.TensorMetadata()
                    spec.name = value.name
                    spec.datatype = value.datatype.map(TensorJSON.datatype) ?? "UNKNOWN"
                    spec.shape = value.shape.map { Int64($0) }
                    return spec
                }
            }
            var answer = Inference_ModelMetadataResponse()
            answer.name = metadata.name
            answer.versions = metadata.versions.map(String.init)
            answer.platform = metadata.platform
            answer.inputs = specs(metadata.inputs)
            answer.outputs = specs(metadata.outputs)
            return answer
        }
    }

    func modelInfer(request: ServerRequest<Inference_ModelInferRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_ModelInferResponse> {
        // Decoding and encoding run on the inference workers, as HTTP handlers do: one pool competes for the cores.
        try await withTaskExecutorPreference(core.scheduler.taskExecutor) {
            try await modelInfer(request)
        }
    }

    private func modelInfer(_ request: ServerRequest<Inference_ModelInferRequest>) async throws
        -> ServerResponse<Inference_ModelInferResponse> {
        try await GRPCCall.run(request, "ModelInfer") {
            try await infer(request.message, deadline: try GRPCCall.deadline(request.metadata))
        }
    }

    /// One ModelInfer request through the core (the unary call, and each ordinary request of a ModelStreamInfer).
    func infer(_ message: Inference_ModelInferRequest, deadline: Duration?) async throws -> Inference_ModelInferResponse {
        let model = try core.model(message.modelName, version: message.modelVersion)
        let inference = InferenceRequest(
            model: model.name, version: message.modelVersion, inputs: try GRPCTensors.inputs(of: message),
            outputs: message.outputs.isEmpty ? nil : message.outputs.map(\.name),
            deadline: deadline, id: message.id.isEmpty ? nil : message.id)
        let result = try await core.infer(inference, on: model)
        // Answer the way the client asked: raw bytes for a client that sent raw bytes (Triton's rule, and what
        // tritonclient.grpc reads back with as_numpy), typed contents otherwise.
        let raw = !message.rawInputContents.isEmpty
        var answer = Inference_ModelInferResponse()
        answer.modelName = result.model
        answer.modelVersion = String(result.version)
        answer.id = message.id
        answer.outputs = result.outputs.map { GRPCTensors.output($0, raw: raw) }
        if raw { answer.rawOutputContents = result.outputs.map { Data($0.tensor.data) } }
        return answer
    }

    // MARK: Triton's repository extension, behind the admin token.

    func repositoryIndex(request: ServerRequest<Inference_RepositoryIndexRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_RepositoryIndexResponse> {
        try await GRPCCall.run(request, context.descriptor.method) {
            try authorize(request.metadata)
            var answer = Inference_RepositoryIndexResponse()
            answer.models = try repository.index().filter { !request.message.ready || $0.state == .ready }.map { entry in
                var model = Inference_RepositoryIndexResponse.ModelIndex()
                model.name = entry.name
                model.version = entry.version ?? ""
                model.state = entry.state.rawValue
                model.reason = entry.reason ?? ""
                return model
            }
            return answer
        }
    }

    func repositoryModelLoad(request: ServerRequest<Inference_RepositoryModelLoadRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_RepositoryModelLoadResponse> {
        try await GRPCCall.run(request, context.descriptor.method) {
            try authorize(request.metadata)
            let name = request.message.modelName
            // Seconds of file reading and compiling: not on the inference workers (as over HTTP).
            let model = try await ControlRoutes.offWorkers { [repository] in try repository.load(name) }
            logger.info("loaded model \(name) version \(model.version) on request (gRPC)")
            return Inference_RepositoryModelLoadResponse()
        }
    }

    func repositoryModelUnload(request: ServerRequest<Inference_RepositoryModelUnloadRequest>, context: ServerContext) async throws
        -> ServerResponse<Inference_RepositoryModelUnloadResponse> {
        try await GRPCCall.run(request, context.descriptor.method) {
            try authorize(request.metadata)
            try repository.unload(request.message.modelName)
            logger.info("unloaded model \(request.message.modelName) on request (gRPC)")
            return Inference_RepositoryModelUnloadResponse()
        }
    }

    /// The same rule as the HTTP control API: `authorization: Bearer <admin token>`, compared in constant time.
    private func authorize(_ metadata: Metadata) throws {
        guard let adminToken else {
            throw RPCError(code: .unimplemented, message: "the model-repository extension is off (the server has no admin token)")
        }
        let given = metadata[stringValues: "authorization"].first(where: { _ in true })
        guard ControlRoutes.isAuthorized(authorization: given, token: adminToken) else {
            throw ServingFailure(kind: .unauthenticated, message: "the repository extension needs the metadata 'authorization: Bearer <admin token>'")
        }
    }
}
