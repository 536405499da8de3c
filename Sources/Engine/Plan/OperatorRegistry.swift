/// Every operator the engine can compile, by ONNX op type (default domain), with the opset
/// differences each factory resolves (attributes that became inputs, changed defaults).
enum OperatorRegistry {
    typealias Factory = @Sendable (NodeContext) throws -> any Operator

    /// The op types `factories` knows, sorted (for `deepserve inspect` and the README).
    static var supportedOpTypes: [String] { factories.keys.sorted() }

    /// Operators only the graph rewrites create (domain `GraphRewriter.internalDomain`).
    static let internalFactories: [String: Factory] = [
        "SiLU": { _ in ActivationOp(activation: .silu) },
        // Conv+Add(x, W, B, residual): a Conv whose output a residual Add read (GraphRewriter's fuseResidualAdd).
        "Conv+Add": { try Conv($0, addsResidual: true) },
    ]

    static let factories: [String: Factory] = {
        var table: [String: Factory] = [:]

        // Arithmetic and comparison.
        let arithmetic: [(String, BinaryArithmetic.Kind)] = [("Add", .add), ("Sub", .sub), ("Mul", .mul), ("Div", .div), ("Pow", .pow)]
        for (name, kind) in arithmetic { table[name] = { _ in BinaryArithmetic(kind: kind) } }
        table["Mod"] = { BinaryArithmetic(kind: .mod(fmod: try $0.attributes.flag("fmod", default: false))) }
        let variadic: [(String, VariadicArithmetic.Kind)] = [("Max", .max), ("Min", .min), ("Sum", .sum), ("Mean", .mean)]
        for (name, kind) in variadic { table[name] = { _ in VariadicArithmetic(kind: kind) } }
        let comparisons: [(String, Comparison.Kind)] = [
            ("Equal", .equal), ("Less", .less), ("LessOrEqual", .lessOrEqual), ("Greater", .greater), ("GreaterOrEqual", .greaterOrEqual),
        ]
        for (name, kind) in comparisons { table[name] = { _ in Comparison(kind: kind) } }
        let logical: [(String, LogicalBinary.Kind)] = [("And", .and), ("Or", .or), ("Xor", .xor)]
        for (name, kind) in logical { table[name] = { _ in LogicalBinary(kind: kind) } }
        table["Not"] = { _ in LogicalNot() }
        table["Where"] = { _ in Where() }

        // Element-wise functions.
        table["Relu"] = { _ in ActivationOp(activation: .relu) }
        table["Sigmoid"] = { _ in ActivationOp(activation: .sigmoid) }
        table["Tanh"] = { _ in ActivationOp(activation: .tanh) }
        table["LeakyRelu"] = { ActivationOp(activation: .leakyRelu(alpha: try $0.attributes.float("alpha", default: 0.01))) }
        table["Clip"] = { try Clip($0) }
        table["PRelu"] = { _ in PRelu() }
        let unary: [(String, UnaryFloat.Kind)] = [
            ("Exp", .exp), ("Log", .log), ("Sqrt", .sqrt), ("Erf", .erf), ("Reciprocal", .reciprocal), ("Floor", .floor),
            ("Ceil", .ceil), ("Round", .round), ("Sin", .sin), ("Cos", .cos), ("Softsign", .softsign), ("Softplus", .softplus),
            ("Mish", .mish), ("Tan", .tan), ("Asin", .asin), ("Acos", .acos), ("Atan", .atan),
            ("Sinh", .sinh), ("Cosh", .cosh), ("Asinh", .asinh), ("Acosh", .acosh), ("Atanh", .atanh),
        ]
        for (name, kind) in unary { table[name] = { _ in UnaryFloat(kind: kind) } }
        table["Elu"] = { UnaryFloat(kind: .elu(alpha: try $0.attributes.float("alpha", default: 1))) }
        table["Selu"] = {
            UnaryFloat(kind: .selu(alpha: try $0.attributes.float("alpha", default: 1.67326319217681884765625),
                                   gamma: try $0.attributes.float("gamma", default: 1.05070102214813232421875)))
        }
        table["HardSigmoid"] = {
            ActivationOp(activation: .hardSigmoid(alpha: try $0.attributes.float("alpha", default: 0.2),
                                                  beta: try $0.attributes.float("beta", default: 0.5)))
        }
        table["HardSwish"] = { _ in ActivationOp(activation: .hardSwish) }
        table["Gelu"] = { context in
            let approximate = try context.attributes.string("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else { throw context.invalid("approximate", "must be none or tanh") }
            return approximate == "none" ? ActivationOp(activation: .gelu) as any Operator : UnaryFloat(kind: .gelu(tanhApproximation: true))
        }
        table["Neg"] = { _ in SignedUnary(kind: .neg) }
        table["Abs"] = { _ in SignedUnary(kind: .abs) }
        table["Sign"] = { _ in SignedUnary(kind: .sign) }
        table["Cast"] = { context in
            let code = try context.attributes.int("to") ?? -1
            guard let type = DataType(rawValue: Int32(clamping: code)) else {
                throw EngineError.unsupportedDataType(DataType.onnxName(Int32(clamping: code)), context: "Cast node '\(context.name)'")
            }
            return Cast(to: type)
        }
        table["CastLike"] = { _ in CastLike() }
        table["IsNaN"] = { _ in FloatClassification(kind: .nan) }
        table["IsInf"] = { context in
            FloatClassification(kind: .infinity(positive: try context.attributes.flag("detect_positive", default: true),
                                                negative: try context.attributes.flag("detect_negative", default: true)))
        }
        table["Hardmax"] = { try Hardmax($0) }

        // Linear algebra and convolution.
        table["Gemm"] = { try Gemm($0) }
        table["MatMul"] = { MatMul($0) }
        table["Conv"] = { try Conv($0) }
        table["ConvTranspose"] = { try ConvTranspose($0) }
        table["RoiAlign"] = { try RoiAlign($0) }
        table["GridSample"] = { try GridSample($0) }
        table["NonMaxSuppression"] = { NonMaxSuppression(centerPointBox: try $0.attributes.flag("center_point_box", default: false)) }
        table["MaxPool"] = { try Pool($0, kind: .max) }
        table["AveragePool"] = { try Pool($0, kind: .average(countIncludePad: try $0.attributes.flag("count_include_pad", default: false))) }
        table["GlobalAveragePool"] = { _ in GlobalPool(isMax: false) }
        table["GlobalMaxPool"] = { _ in GlobalPool(isMax: true) }

        // Normalisation.
        table["BatchNormalization"] = { try BatchNormalization($0) }
        table["InstanceNormalization"] = { try InstanceNormalization($0) }
        table["LayerNormalization"] = { try LayerNormalization($0) }
        table["GroupNormalization"] = { try GroupNormalization($0) }
        table["LRN"] = { try LRN($0) }
        table["Softmax"] = { try Softmax($0, logarithm: false) }
        table["LogSoftmax"] = { try Softmax($0, logarithm: true) }

        // Quantization.
        table["QuantizeLinear"] = { try QuantizeLinear($0) }
        table["DequantizeLinear"] = { try DequantizeLinear($0) }
        table["DynamicQuantizeLinear"] = { _ in DynamicQuantizeLinear() }
        table["MatMulInteger"] = { _ in MatMulInteger() }
        table["QLinearMatMul"] = { _ in QLinearMatMul() }
        table["ConvInteger"] = { try ConvInteger($0) }
        table["QLinearConv"] = { try QLinearConv($0) }

        // Control flow: subgraphs compiled as plans of their own.
        table["If"] = { try If($0) }
        table["Loop"] = { try Loop($0) }
        table["Scan"] = { try Scan($0) }

        // Recurrent.
        table["LSTM"] = { try Recurrent($0, cell: .lstm(inputForget: false)) }
        table["GRU"] = { try Recurrent($0, cell: .gru(linearBeforeReset: false)) }
        table["RNN"] = { try Recurrent($0, cell: .rnn) }

        // Shapes and data movement.
        table["Reshape"] = { try Reshape($0) }
        table["Flatten"] = { Flatten(axis: try $0.attributes.int("axis", default: 1)) }
        table["Squeeze"] = { Squeeze(attributeAxes: $0.opset < 13 ? try $0.attributes.ints("axes") : nil) }
        table["Unsqueeze"] = { context in
            if context.opset < 13 {
                guard let axes = try context.attributes.ints("axes") else { throw context.invalid("axes", "is required") }
                return Unsqueeze(attributeAxes: axes)
            }
            return Unsqueeze(attributeAxes: nil)
        }
        table["Transpose"] = { Transpose(perm: try $0.attributes.ints("perm")) }
        table["Concat"] = { context in
            guard let axis = try context.attributes.int("axis") else { throw context.invalid("axis", "is required") }
            return Concat(axis: axis)
        }
        table["Split"] = { context in
            Split(axis: try context.attributes.int("axis", default: 0),
                  attributeSplit: context.opset < 13 ? try context.attributes.ints("split") : nil,
                  outputCount: context.outputCount)
        }
        table["Slice"] = { context in
            guard context.opset < 10 else { return Slice(attributes: nil) }
            guard let starts = try context.attributes.ints("starts"), let ends = try context.attributes.ints("ends") else {
                throw context.invalid("starts", "and ends are required before opset 10")
            }
            return Slice(attributes: (starts, ends, try context.attributes.ints("axes")))
        }
        table["Gather"] = { Gather(axis: try $0.attributes.int("axis", default: 0)) }
        table["Shape"] = { ShapeOf(start: try $0.attributes.int("start", default: 0), end: try $0.attributes.int("end")) }
        table["Size"] = { _ in Size() }
        table["Identity"] = { Identity(outputCount: $0.outputCount) }
        table["Dropout"] = { Identity(outputCount: $0.outputCount) }
        table["Constant"] = { try Constant($0) }
        table["ConstantOfShape"] = { try ConstantOfShape($0) }
        table["Expand"] = { _ in Expand() }
        table["Tile"] = { _ in Tile() }
        table["Range"] = { _ in ArithmeticRange() }
        table["Pad"] = { try Pad($0) }
        table["GatherElements"] = { GatherElements(axis: try $0.attributes.int("axis", default: 0)) }
        table["GatherND"] = { GatherND(batchDims: try $0.attributes.int("batch_dims", default: 0)) }
        table["ScatterElements"] = { ScatterElements(axis: try $0.attributes.int("axis", default: 0), reduction: try ScatterReduction($0)) }
        // Scatter (opsets 9–10) is ScatterElements under its old name.
        table["Scatter"] = { ScatterElements(axis: try $0.attributes.int("axis", default: 0), reduction: .none) }
        table["ScatterND"] = { ScatterND(reduction: try ScatterReduction($0)) }
        table["TopK"] = { try TopK($0) }
        table["CumSum"] = { context in
            CumSum(exclusive: try context.attributes.flag("exclusive", default: false), reverse: try context.attributes.flag("reverse", default: false))
        }
        table["Trilu"] = { Trilu(upper: try $0.attributes.flag("upper", default: true)) }
        table["NonZero"] = { _ in NonZero() }
        table["OneHot"] = { OneHot(axis: try $0.attributes.int("axis", default: -1)) }
        table["DepthToSpace"] = { try BlockRearrange($0, direction: .depthToSpace) }
        table["SpaceToDepth"] = { try BlockRearrange($0, direction: .spaceToDepth) }
        table["Einsum"] = { try Einsum($0) }
        table["Compress"] = { Compress(axis: try $0.attributes.int("axis")) }
        table["Resize"] = { try Resize($0, upsample: false) }
        table["Upsample"] = { try Resize($0, upsample: true) }

        // Reductions.
        let reductions: [(String, Reduce.Kind, Int)] = [
            ("ReduceMean", .mean, 18), ("ReduceSum", .sum, 13), ("ReduceMax", .max, 18), ("ReduceMin", .min, 18),
            ("ReduceProd", .prod, 18), ("ReduceSumSquare", .sumSquare, 18), ("ReduceL1", .l1, 18), ("ReduceL2", .l2, 18),
            ("ReduceLogSumExp", .logSumExp, 18),
        ]
        for (name, kind, since) in reductions { table[name] = { try Reduce($0, kind: kind, axesAsInputSince: since) } }
        for (name, isMax) in [("ArgMax", true), ("ArgMin", false)] {
            table[name] = { context in
                ArgExtreme(isMax: isMax, axis: try context.attributes.int("axis", default: 0),
                           keepDims: try context.attributes.flag("keepdims", default: true),
                           selectLastIndex: try context.attributes.flag("select_last_index", default: false))
            }
        }
        return table
    }()
}
