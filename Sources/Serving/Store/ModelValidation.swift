import Engine
import Imaging

/// What a model's config.json and its graph agree on, checked once at load so a mismatch fails the load with one
/// plain sentence (file, key, both values) instead of failing — or answering nonsense — on every request.
struct ModelInterface: Sendable {
    /// How an image task's input tensor is laid out.
    enum Layout: String, Sendable { case nchw = "NCHW", nhwc = "NHWC" }

    /// How classification turns the chosen output into scores.
    enum Activation: String, Sendable { case softmax, sigmoid, none }

    /// Image tasks: the input the image goes into and its layout.
    var imageInput: String?
    var layout: Layout = .nchw
    /// The output a task reads.
    var output: String?
    /// Classification only.
    var activation: Activation = .softmax
    /// Text generation: whether concurrent generations share each step (`StepBatcher`): asked for (the default) and
    /// possible, i.e. the tokens and every state hold the batch on a dynamic axis.
    var stepBatching = false

    static func check(config: ModelConfig, plan: Plan, preprocessing: ImagePreprocessing?, labels: [String]?,
                      vocabulary: [String]?) throws -> ModelInterface {
        let file = "config.json"
        if let task = config.task, !ModelConfig.tasks.contains(task) {
            throw ConfigError(file, "task", "is \"\(task)\"; expected one of \(ModelConfig.tasks.joined(separator: ", ")) (or no task: KServe V2 only)")
        }
        if let threads = config.intraOpThreads, !(1...256).contains(threads) {
            throw ConfigError(file, "intra_op_threads", "is \(threads); expected 1...256")
        }
        try checkSpecs(config.inputs, against: plan.inputs, key: "inputs", file: file)
        try checkSpecs(config.outputs, against: plan.outputs, key: "outputs", file: file)
        if let size = config.batching?.maxBatchSize, size > 1, let problem = outputMissingTheBatch(plan, axes: BatchAxes(config)) {
            throw ConfigError(file, "batching.max_batch_size", "is \(size), but \(problem)")
        }
        var interface = ModelInterface()
        let outputName = config.postprocessing?.output ?? plan.outputs.first?.name
        if let name = config.postprocessing?.output, !plan.outputs.contains(where: { $0.name == name }) {
            throw ConfigError(file, "postprocessing.output", "is \"\(name)\", but model.onnx has outputs \(plan.outputs.map(\.name))")
        }
        interface.output = outputName

        switch config.task {
        case "image-classification", "reconstruction":
            guard let preprocessing else { throw ConfigError(file, "preprocessing", "is required for task \(config.task ?? "")") }
            guard let input = plan.inputs.first else { throw ConfigError(file, "inputs", "name none, but the task needs an image input") }
            interface.imageInput = input.name
            interface.layout = try layout(of: input, declared: config.preprocessing?.layout, file: file)
            try checkImage(input, preprocessing, interface.layout, file: file)
            if config.task == "image-classification" {
                try checkClassifier(plan, output: outputName, config: config, labels: labels, into: &interface, file: file)
            } else if config.postprocessing?.output == nil, plan.outputs.contains(where: { $0.name == "reconstruction" }) {
                interface.output = "reconstruction"   // an autoencoder exported with its latent as another output
            }
        case "text-generation":
            try checkGenerator(config, plan, vocabulary: vocabulary, file: file)
            interface.stepBatching = try stepBatching(config, plan, file: file)
            if interface.stepBatching, let problem = outputMissingTheBatch(plan, axes: BatchAxes(config)) {
                guard config.generation?.stepBatching == nil else {
                    throw ConfigError(file, "generation.step_batching", "is true, but \(problem)")
                }
                interface.stepBatching = false
            }
        case "image-generation":
            guard let input = plan.inputs.first, input.shape?.last?.fixedValue != nil else {
                throw ConfigError(file, "inputs", "must name a latent input of fixed size, but model.onnx's first input is \(plan.inputs.first.map(\.description) ?? "missing")")
            }
        default:
            break
        }
        return interface
    }

    /// Every tensor the config lists exists in the graph with the same element type and rank, and fixed sizes agree.
    private static func checkSpecs(_ specs: [ModelConfig.TensorSpec], against values: [ValueInfo], key: String, file: String) throws {
        for (index, spec) in specs.enumerated() {
            guard let value = values.first(where: { $0.name == spec.name }) else {
                throw ConfigError(file, "\(key)[\(index)].name", "is \"\(spec.name)\", but model.onnx's \(key) are \(values.map(\.name))")
            }
            if let type = value.dataType, spec.dtype.lowercased() != type.description, !(spec.dtype == "float" && type == .float) {
                throw ConfigError(file, "\(key)[\(index)].dtype", "is \(spec.dtype), but model.onnx declares \(type.description) for '\(spec.name)'")
            }
            if let axis = spec.batchAxis { try checkBatchAxis(axis, of: spec, graph: value.shape, key: "\(key)[\(index)]", file: file) }
            guard let shape = value.shape else { continue }
            guard shape.count == spec.shape.count else {
                throw ConfigError(file, "\(key)[\(index)].shape", "has rank \(spec.shape.count), but model.onnx's '\(spec.name)' has rank \(shape.count) (\(shape))")
            }
            for (axis, (declared, actual)) in zip(spec.shape, shape).enumerated() {
                if declared >= 0, let fixed = actual.fixedValue, fixed != declared {
                    throw ConfigError(file, "\(key)[\(index)].shape[\(axis)]", "is \(declared), but model.onnx's '\(spec.name)' has \(fixed) there")
                }
            }
        }
    }

    /// A declared batch axis names a dynamic dimension inside the tensor's rank (in the config's shape and the graph's).
    private static func checkBatchAxis(_ axis: Int, of spec: ModelConfig.TensorSpec, graph: [Dimension]?, key: String, file: String) throws {
        guard axis >= 0, axis < spec.shape.count else {
            let axes = spec.shape.isEmpty ? "none: it is a scalar" : "0...\(spec.shape.count - 1)"
            throw ConfigError(file, "\(key).batch_axis", "is \(axis), but '\(spec.name)' has rank \(spec.shape.count) (axes \(axes))")
        }
        guard spec.shape[axis] < 0 else {
            throw ConfigError(file, "\(key).batch_axis", "is \(axis), but \(key).shape[\(axis)] is \(spec.shape[axis]); a batch axis must be dynamic (-1)")
        }
        if let graph, axis < graph.count, let fixed = graph[axis].fixedValue {
            throw ConfigError(file, "\(key).batch_axis", "is \(axis), but model.onnx fixes that dimension of '\(spec.name)' to \(fixed)")
        }
    }

    /// The declared layout, or the one the graph's input shape makes unambiguous: a fixed 1 or 3 in exactly one of
    /// dims 1 and 3 (Keras/tf2onnx exports are NHWC).
    private static func layout(of input: ValueInfo, declared: String?, file: String) throws -> Layout {
        if let declared {
            guard let layout = Layout(rawValue: declared.uppercased()) else {
                throw ConfigError(file, "preprocessing.layout", "is \"\(declared)\"; expected \"NCHW\" or \"NHWC\"")
            }
            return layout
        }
        guard let shape = input.shape, shape.count == 4 else { return .nchw }
        let channelsFirst = [1, 3].contains(shape[1].fixedValue ?? 0), channelsLast = [1, 3].contains(shape[3].fixedValue ?? 0)
        return channelsLast && !channelsFirst ? .nhwc : .nchw
    }

    private static func checkImage(_ input: ValueInfo, _ preprocessing: ImagePreprocessing, _ layout: Layout, file: String) throws {
        guard let shape = input.shape else { return }
        guard shape.count == 4 else {
            throw ConfigError(file, "preprocessing", "describes an image, but model.onnx's input '\(input.name)' has rank \(shape.count) (\(shape)), not 4")
        }
        let (c, h, w) = layout == .nchw ? (shape[1], shape[2], shape[3]) : (shape[3], shape[1], shape[2])
        for (key, wanted, dim) in [("channels", preprocessing.channels, c), ("height", preprocessing.height, h), ("width", preprocessing.width, w)] {
            if let fixed = dim.fixedValue, fixed != wanted {
                throw ConfigError(file, "preprocessing.\(key)", "is \(wanted), but model.onnx's input '\(input.name)' (\(layout.rawValue)) has \(key) \(fixed)")
            }
        }
    }

    private static func checkClassifier(_ plan: Plan, output: String?, config: ModelConfig, labels: [String]?,
                                        into interface: inout ModelInterface, file: String) throws {
        guard let output, let value = plan.outputs.first(where: { $0.name == output }) else {
            throw ConfigError(file, "postprocessing.output", "names no output of model.onnx")
        }
        if let shape = value.shape, shape.count != 2 {
            throw ConfigError(file, "postprocessing.output", "is '\(output)' of rank \(shape.count) (\(shape)); classification reads [batch, classes]")
        }
        if let labels, let classes = value.shape?.last?.fixedValue, labels.count != classes {
            throw ConfigError(config.labelsFile ?? "labels", "", "has \(labels.count) labels, but model.onnx's '\(output)' has \(classes) classes")
        }
        if let name = config.postprocessing?.activation {
            guard let activation = Activation(rawValue: name) else {
                throw ConfigError(file, "postprocessing.activation", "is \"\(name)\"; expected softmax, sigmoid or none")
            }
            interface.activation = activation
        } else {
            // A graph that already ends in Softmax or Sigmoid gives probabilities: softmax again would flatten them.
            let final = plan.finalOperator(ofOutput: output)
            interface.activation = final == "Softmax" || final == "Sigmoid" || final == "LogSoftmax" ? .none : .softmax
        }
    }

    /// Batching joins requests along the inputs' batch axes and splits every output along its own, so each output must
    /// carry the batch there. Static shape inference, with the inputs' batch axes given one name, says where the batch
    /// goes: an output whose batch axis it proves to hold something else (a fixed size, another dimension) would be
    /// split wrongly — or, when the sizes happen to agree, answer each request with another's rows. Returns what is
    /// wrong, or nil; where inference cannot tell (an unknown dimension), the split's run-time check remains.
    static func outputMissingTheBatch(_ plan: Plan, axes: BatchAxes) -> String? {
        let batch = Dimension.symbolic("deepserve.batch")
        var shapes: [String: [Dimension]] = [:]
        for input in plan.inputs {
            guard var shape = input.shape else { continue }
            let axis = axes.input(input.name)
            guard axis < shape.count, shape[axis].fixedValue == nil else { return nil }   // never batched: no split
            shape[axis] = batch
            shapes[input.name] = shape
        }
        guard let facts = try? plan.inferFacts(inputShapes: shapes) else { return nil }
        for output in plan.outputs {
            guard let shape = facts[output.name]?.shape else { continue }
            let axis = axes.output(output.name)
            let shown = "[" + shape.map { $0 == batch ? "batch" : $0.description }.joined(separator: ", ") + "]"
            if axis >= shape.count {
                return "output '\(output.name)' has rank \(shape.count) (\(shown)), no batch axis \(axis) to split the batch along"
            }
            if shape[axis] != batch, shape[axis] != .unknown {
                let holder = shape.firstIndex(of: batch).map { ", the batch is on axis \($0): declare it as the output's batch_axis" } ?? ""
                return "output '\(output.name)' holds \(shape[axis]) on its batch axis \(axis), not the batch (shape \(shown) by static inference\(holder))"
            }
        }
        return nil
    }

    /// Step batching joins the streams' tokens and states along their batch axes, so each of those axes must be a
    /// dynamic dimension of the graph. Asked for explicitly (`generation.step_batching: true`) and impossible, the load
    /// fails; by default such a model just generates one stream per step.
    private static func stepBatching(_ config: ModelConfig, _ plan: Plan, file: String) throws -> Bool {
        guard let recurrent = config.recurrent, config.generation?.stepBatching ?? true else { return false }
        let axes = BatchAxes(config)
        let names = [recurrent.tokenInput] + recurrent.state.map(\.input)
        for name in names {
            guard let value = plan.inputs.first(where: { $0.name == name }), let shape = value.shape else { continue }
            let axis = axes.input(name)
            if axis >= shape.count || shape[axis].fixedValue != nil {
                guard config.generation?.stepBatching == nil else {
                    throw ConfigError(file, "generation.step_batching", "is true, but '\(name)' has no dynamic dimension at its batch axis \(axis) (\(shape)); declare its batch_axis in inputs")
                }
                return false
            }
        }
        return true
    }

    private static func checkGenerator(_ config: ModelConfig, _ plan: Plan, vocabulary: [String]?, file: String) throws {
        guard let recurrent = config.recurrent else { throw ConfigError(file, "recurrent", "is required for task text-generation") }
        guard let vocabulary else { throw ConfigError(file, "vocab_file", "is required for task text-generation") }
        guard plan.inputs.contains(where: { $0.name == recurrent.tokenInput }) else {
            throw ConfigError(file, "recurrent.token_input", "is \"\(recurrent.tokenInput)\", but model.onnx's inputs are \(plan.inputs.map(\.name))")
        }
        guard let logits = plan.outputs.first(where: { $0.name == recurrent.logitsOutput }) else {
            throw ConfigError(file, "recurrent.logits_output", "is \"\(recurrent.logitsOutput)\", but model.onnx's outputs are \(plan.outputs.map(\.name))")
        }
        for (index, state) in recurrent.state.enumerated() {
            guard plan.inputs.contains(where: { $0.name == state.input }) else {
                throw ConfigError(file, "recurrent.state[\(index)].input", "is \"\(state.input)\", but model.onnx's inputs are \(plan.inputs.map(\.name))")
            }
            guard plan.outputs.contains(where: { $0.name == state.output }) else {
                throw ConfigError(file, "recurrent.state[\(index)].output", "is \"\(state.output)\", but model.onnx's outputs are \(plan.outputs.map(\.name))")
            }
        }
        if let size = logits.shape?.last?.fixedValue, size != vocabulary.count {
            throw ConfigError(config.vocabFile ?? "vocab_file", "", "has \(vocabulary.count) tokens, but model.onnx's '\(logits.name)' has \(size) logits")
        }
    }
}
