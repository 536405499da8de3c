import GRPCCore
import InferenceGRPC

/// ModelStreamInfer, Triton's streaming extension (tritonclient.grpc's `start_stream` / `async_stream_infer`): the
/// requests of one bidirectional stream are answered in the order they come, on the same stream.
///
/// - A request to a text-generation model with the input `text_input` (BYTES [1], the prompt, as Triton's LLM
///   backends take it) is *decoupled*, as Triton's decoupled models answer: one response per generated token
///   (`GRPCTextGeneration`), the steps shared with every other generation of the model through the core.
/// - Every other request is an ordinary ModelInfer with one response, what Triton does for a model that is not
///   decoupled.
///
/// A request that fails is answered with its `error_message` (the one error policy's message) and the stream goes
/// on, as Triton does; only a broken stream ends the call.
extension GRPCInferenceService {
    func modelStreamInfer(request: StreamingServerRequest<Inference_ModelInferRequest>, context: ServerContext) async throws
        -> StreamingServerResponse<Inference_ModelStreamInferResponse> {
        let metadata = request.metadata
        return StreamingServerResponse { [self] writer in
            // Decoding, inference and encoding on the inference workers, as the unary call does.
            try await withTaskExecutorPreference(core.scheduler.taskExecutor) {
                let deadline = try GRPCCall.deadline(metadata)
                for try await message in request.messages {
                    do {
                        try await answer(message, deadline: deadline, writer: writer)
                    } catch is CancellationError {
                        throw CancellationError()   // the client went away: stop generating
                    } catch {
                        var failed = Inference_ModelStreamInferResponse()
                        failed.errorMessage = GRPCCall.failure(error, metadata, "ModelStreamInfer").message
                        try await writer.write(failed)
                    }
                }
            }
            return [:]
        }
    }

    private func answer(_ message: Inference_ModelInferRequest, deadline: Duration?,
                        writer: RPCWriter<Inference_ModelStreamInferResponse>) async throws {
        let model = try core.model(message.modelName, version: message.modelVersion)
        if GRPCTextGeneration.isGeneration(message, for: model) {
            let generation = try GRPCTextGeneration(message, model: model)
            try await generation.run(generator, deadline: deadline) { response in
                var streamed = Inference_ModelStreamInferResponse()
                streamed.inferResponse = response
                try await writer.write(streamed)
            }
            return
        }
        var answered = Inference_ModelStreamInferResponse()
        answered.inferResponse = try await infer(message, deadline: deadline)
        try await writer.write(answered)
    }
}
