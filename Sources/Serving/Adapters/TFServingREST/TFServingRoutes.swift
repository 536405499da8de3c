import Engine
import Foundation
import HTTPServer

/// TensorFlow Serving's REST API (KServe's V1 protocol, OpenVINO Model Server's REST API) beside our own `/v1` task
/// routes: model status, signature metadata and `:predict`, as a thin adapter onto `InferenceCore`. Errors are
/// `{"error": "…"}` with the status TF Serving gives the same failure (its ToHTTPStatusCode: invalid argument 400,
/// not found 404, deadline 504, unavailable 503, internal 500).
///
/// `:predict` is a suffix of the last path segment (`/v1/models/NAME:predict`), a route pattern of its own
/// (`{name}:predict`, see `Router`); the task routes (`/v1/models/NAME/classify` …) have other segment counts and
/// keep working as before. `:classify` and `:regress` take tf.Example protos, which ONNX models don't: no route.
struct TFServingRoutes: Sendable {
    let core: InferenceCore
    var repository: ModelRepository { core.repository }

    func register(on router: inout MeteredRouter) {
        for prefix in ["/v1/models/{name}", "/v1/models/{name}/versions/{version}", "/v1/models/{name}/labels/{label}"] {
            router.getImmediate(prefix) { [self] request in try answer(request) { try status(request) } }
            router.getImmediate(prefix + "/metadata") { [self] request in try answer(request) { try metadata(request) } }
            router.post(prefix + ":predict") { [self] request in
                do {
                    return try await predict(request)
                } catch {
                    throw Self.httpError(error, for: request)
                }
            }
        }
    }

    private func status(_ request: HTTPRequest) throws -> HTTPResponse {
        let model = try core.model(for: request)
        let pinned = request.pathParameters["version"] != nil || request.pathParameters["label"] != nil
        let versions = pinned ? [model.version] : repository.versions(of: model.name)
        return try .json(encoding: TFAnswers.Status(versions: versions))
    }

    private func metadata(_ request: HTTPRequest) throws -> HTTPResponse {
        let model = try core.model(for: request)
        return try .json(encoding: TFAnswers.Metadata(core.metadata(of: model), version: model.version))
    }

    private func predict(_ request: HTTPRequest) async throws -> HTTPResponse {
        let model = try core.model(for: request)
        let decoded = try TFPredictRequest(body: request.body, contentType: request.headers["Content-Type"],
                                           declared: model.plan.inputs.map(ModelMetadata.TensorSpec.init))
        let result = try await core.infer(InferenceRequest(model: model.name, version: String(model.version), inputs: decoded.inputs,
                                                           deadline: try request.deadline()), on: model)
        let outputs = result.outputs
        switch decoded.format {
        case .columnar:
            let value: TFAnswers.Value = outputs.count == 1
                ? .tensor(TFNestedTensor(tensor: outputs[0].tensor))
                : .named(Dictionary(outputs.map { ($0.name, .tensor(TFNestedTensor(tensor: $0.tensor))) }, uniquingKeysWith: { a, _ in a }))
            return try .json(encoding: TFAnswers.Predictions(outputs: value))
        case .row:
            // Every output must have the request's rows along axis 0, as TF Serving requires for row format.
            for output in outputs where output.tensor.shape.first != decoded.rows {
                throw ServingError.badRequest("output '\(output.name)' has shape \(output.tensor.shape), not \(decoded.rows) rows like the instances; use the columnar format (\"inputs\") for this model")
            }
            let rows = (0..<decoded.rows).map { row -> TFAnswers.Value in
                outputs.count == 1
                    ? .tensor(TFNestedTensor(tensor: outputs[0].tensor, row: row))
                    : .named(Dictionary(outputs.map { ($0.name, .tensor(TFNestedTensor(tensor: $0.tensor, row: row))) }, uniquingKeysWith: { a, _ in a }))
            }
            return try .json(encoding: TFAnswers.Predictions(predictions: .list(rows)))
        }
    }

    /// Failures by our policy, with TF Serving's statuses.
    private func answer(_ request: HTTPRequest, _ body: () throws -> HTTPResponse) throws -> HTTPResponse {
        do { return try body() } catch { throw Self.httpError(error, for: request) }
    }

    private static func httpError(_ error: Error, for request: HTTPRequest) -> HTTPError {
        if let error = error as? HTTPError { return error }
        let failure = ServingFailure(error, requestID: request.requestID, context: "\(request.method) \(request.path)")
        return HTTPError(failure.httpStatus ?? failure.kind.tfServingStatus, failure.message,
                         headers: failure.retryLater ? ["Retry-After": "1"] : [:])
    }
}

extension ServingFailure.Kind {
    /// TF Serving's status for the gRPC code each kind corresponds to (tensorflow_serving/model_servers/http_server.cc).
    var tfServingStatus: HTTPStatus {
        switch self {
        case .invalidArgument, .unsupportedMediaType: .badRequest
        case .unauthenticated: .unauthorized
        case .notFound: .notFound
        // RESOURCE_EXHAUSTED is 429 in TF Serving, but ours is a request past the size limits, 413 everywhere here.
        case .tooLarge: .contentTooLarge
        case .unavailable: .serviceUnavailable
        case .deadlineExceeded: .gatewayTimeout
        case .internalFailure: .internalServerError
        }
    }
}
