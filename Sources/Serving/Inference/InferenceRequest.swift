import Engine

/// One inference, whatever protocol it arrived by (KServe V2 over HTTP or gRPC, TensorFlow Serving REST): each
/// adapter decodes its wire format into this and nothing else, and `InferenceCore` runs it.
public struct InferenceRequest: Sendable {
    /// The model's name; checked against the repository's naming rule before it is looked up.
    public var model: String
    /// The version asked for as the client wrote it; nil or empty: the highest version serving.
    public var version: String?
    /// The inputs in the order the client sent them; a name given twice is refused.
    public var inputs: [NamedTensor]
    /// The outputs wanted, in the order wanted; nil: every output of the model, in the model's order.
    public var outputs: [String]?
    /// How long the client will wait; nil: the scheduler's default.
    public var deadline: Duration?
    /// The client's own id for the request, echoed in the answer.
    public var id: String?
    /// Whether the scheduler may run it in one batch with other requests; false for a request that is a batch
    /// already (a generation lane's step) or must run alone (a generation step without step batching).
    public var batchable: Bool

    public init(model: String, version: String? = nil, inputs: [NamedTensor], outputs: [String]? = nil,
                deadline: Duration? = nil, id: String? = nil, batchable: Bool = true) {
        self.model = model
        self.version = version
        self.inputs = inputs
        self.outputs = outputs
        self.deadline = deadline
        self.id = id
        self.batchable = batchable
    }
}

/// What an inference answers: the model version that ran it and the outputs asked for, in the order asked for.
public struct InferenceResult: Sendable {
    public let model: String
    public let version: Int
    public let id: String?
    public let outputs: [NamedTensor]
    public let timing: InferenceScheduler.Timing

    /// The outputs by name.
    public var named: [String: Tensor] {
        Dictionary(outputs.map { ($0.name, $0.tensor) }, uniquingKeysWith: { first, _ in first })
    }
}
