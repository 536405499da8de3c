import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// LSTM, GRU and RNN as ONNX defines them: forward, reverse or bidirectional; initial states;
/// per-sequence lengths; clip; custom activations; layout 0 (time-major) or 1 (batch-major).
///
/// Each direction first multiplies every time step's input by W in one GEMM (biases fused in its
/// epilogue); the time loop then only adds H·Rᵀ, one small GEMM per step, and the gate math. Constant W and R (the
/// usual case) are packed for the GEMM once, at load, rather than on every step.
struct Recurrent: Operator {
    enum Cell: Sendable { case lstm(inputForget: Bool), gru(linearBeforeReset: Bool), rnn }

    let cell: Cell
    let hiddenSize: Int
    let directions: [Bool]   // true = reverse, one entry per direction
    let activations: [[GateActivation]]   // per direction
    let clip: Float?
    let batchMajor: Bool
    /// Per direction, when W and R are constants: W and R packed as the right operands of X·Wᵀ and H·Rᵀ. For a GRU,
    /// `recurrent` holds R's z and r rows and `candidate` its h rows, which multiply separately.
    let packed: [PackedWeights]?
    /// Per direction, when B is a constant of the right shape: its biases as each step needs them, made once at load
    /// (made per run they were ~4 % of a batch-8 LSTM step: three 1024-float arrays and a loop over each).
    let constantBiases: [DirectionBiases]?

    /// One direction's biases: Rb, and Wb + Rb folded into the input projection's epilogue (a GRU's candidate rows
    /// take Wb alone there: their Rb is added inside the reset gate's product).
    struct DirectionBiases: Sendable {
        let recurrent: [Float]
        let folded: [Float]

        /// From B (dirs × 2·gates·h, floats) for direction `d`, or zeros without B.
        init(_ bias: Tensor?, direction d: Int, width: Int, separateCandidate: Bool, hidden h: Int) {
            guard let bias else {
                recurrent = [Float](repeating: 0, count: width)
                folded = recurrent
                return
            }
            let pb = bias.pointer(as: Float.self) + d * 2 * width
            let recurrent = Array(UnsafeBufferPointer(start: pb + width, count: width))
            var folded = Array(UnsafeBufferPointer(start: pb, count: width))
            for i in 0..<width where !(separateCandidate && i >= 2 * h) { folded[i] += recurrent[i] }
            self.recurrent = recurrent
            self.folded = folded
        }
    }

    struct PackedWeights: Sendable {
        let input: PackedMatrix
        let recurrent: PackedMatrix
        let candidate: PackedMatrix?
    }

    var gateCount: Int {
        switch cell {
        case .lstm: 4
        case .gru: 3
        case .rnn: 1
        }
    }

    init(_ context: NodeContext, cell: Cell) throws {
        let a = context.attributes
        switch cell {
        case .lstm: self.cell = .lstm(inputForget: try a.flag("input_forget", default: false))
        case .gru: self.cell = .gru(linearBeforeReset: try a.int("linear_before_reset", default: 0) != 0)
        case .rnn: self.cell = .rnn
        }
        guard let hidden = try a.int("hidden_size"), hidden > 0, hidden <= 1 << 20 else {
            throw context.invalid("hidden_size", "is required and must be in 1...\(1 << 20)")
        }
        hiddenSize = hidden
        let direction = try a.string("direction", default: "forward")
        switch direction {
        case "forward": directions = [false]
        case "reverse": directions = [true]
        case "bidirectional": directions = [false, true]
        default: throw context.invalid("direction", "must be forward, reverse or bidirectional, is '\(direction)'")
        }
        let defaults: [String] = switch cell {
        case .lstm: ["Sigmoid", "Tanh", "Tanh"]
        case .gru: ["Sigmoid", "Tanh"]
        case .rnn: ["Tanh"]
        }
        let names = try a.strings("activations") ?? (directions.count == 2 ? defaults + defaults : defaults)
        guard names.count == defaults.count * directions.count else {
            throw context.invalid("activations", "needs \(defaults.count * directions.count) functions, has \(names.count)")
        }
        var alphas = try a.floats("activation_alpha") ?? []
        var betas = try a.floats("activation_beta") ?? []
        let parsed = try names.map { name in
            guard let activation = try GateActivation(name: name, alphas: &alphas, betas: &betas) else {
                throw context.invalid("activations", "names unknown function '\(name)'")
            }
            return activation
        }
        activations = (0..<directions.count).map { Array(parsed[($0 * defaults.count)..<(($0 + 1) * defaults.count)]) }
        clip = try a.float("clip")
        batchMajor = try a.int("layout", default: 0) == 1
        packed = Self.pack(context.constantInputs, cell: self.cell, hidden: hidden, directions: directions.count)
        let gates = switch self.cell { case .lstm: 4; case .gru: 3; case .rnn: 1 }
        let separateCandidate: Bool = if case .gru = self.cell { true } else { false }
        if context.constantInputs.count > 3, let bias = context.constantInputs[3], bias.dataType == .float,
           bias.shape == [directions.count, 2 * gates * hidden] {
            constantBiases = (0..<directions.count).map {
                DirectionBiases(bias, direction: $0, width: gates * hidden, separateCandidate: separateCandidate, hidden: hidden)
            }
        } else {
            constantBiases = nil
        }
    }

    /// W [dirs, gates·h, input] and R [dirs, gates·h, h] packed per direction, when both are float constants of those
    /// shapes (otherwise `run` multiplies them unpacked, or reports their shapes).
    private static func pack(_ constants: [Tensor?], cell: Cell, hidden h: Int, directions: Int) -> [PackedWeights]? {
        guard constants.count > 2, let w = constants[1], let r = constants[2], w.dataType == .float, r.dataType == .float,
              w.rank == 3, r.rank == 3 else { return nil }
        let gates = switch cell { case .lstm: 4; case .gru: 3; case .rnn: 1 }
        let width = gates * h, inputSize = w.shape[2]
        guard w.shape == [directions, width, inputSize], r.shape == [directions, width, h] else { return nil }
        return (0..<directions).map { d in
            let pw = w.pointer(as: Float.self) + d * width * inputSize, pr = r.pointer(as: Float.self) + d * width * h
            let input = PackedMatrix(right: pw, k: inputSize, n: width, stride: inputSize, transposed: true)
            if case .gru = cell {
                return PackedWeights(input: input,
                                     recurrent: PackedMatrix(right: pr, k: h, n: 2 * h, stride: h, transposed: true),
                                     candidate: PackedMatrix(right: pr + 2 * h * h, k: h, n: h, stride: h, transposed: true))
            }
            return PackedWeights(input: input, recurrent: PackedMatrix(right: pr, k: h, n: width, stride: h, transposed: true),
                                 candidate: nil)
        }
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        var x = try inputs.required(0)
        let w = try inputs.required(1), r = try inputs.required(2)
        // Every tensor below is read as float32: another element type would be read out of bounds.
        let optionalFloats = [("B", 3), ("initial_h", 5), ("initial_c", 6), ("P", 7)].compactMap { role, index in inputs.optional(index).map { (role, $0) } }
        for (role, tensor) in [("X", x), ("W", w), ("R", r)] + optionalFloats { try tensor.expect(.float, role: role) }
        guard x.rank == 3 else { throw KernelError("X must be 3-d, got \(x.shape)") }
        if batchMajor { x = try Transpose(perm: [1, 0, 2]).run([x], workspace)[0] }
        let (steps, batch, inputSize) = (x.shape[0], x.shape[1], x.shape[2])
        let h = hiddenSize, gates = gateCount, dirs = directions.count
        guard w.shape == [dirs, gates * h, inputSize] else { throw KernelError("W must be \([dirs, gates * h, inputSize]), got \(w.shape)") }
        guard r.shape == [dirs, gates * h, h] else { throw KernelError("R must be \([dirs, gates * h, h]), got \(r.shape)") }
        let bias = inputs.optional(3)
        if let bias, bias.shape != [dirs, 2 * gates * h] { throw KernelError("B must be \([dirs, 2 * gates * h]), got \(bias.shape)") }
        let lengths = try inputs.optional(4).map { try indexList($0, role: "sequence_lens") } ?? Array(repeating: steps, count: batch)
        guard lengths.count == batch, lengths.allSatisfy({ (0...steps).contains($0) }) else {
            throw KernelError("sequence_lens \(lengths) must give each of the \(batch) sequences a length in 0...\(steps)")
        }
        let stateShape = batchMajor ? [batch, dirs, h] : [dirs, batch, h]
        func initialState(_ index: Int, _ role: String) throws -> Tensor? {
            guard let state = inputs.optional(index) else { return nil }
            guard state.shape == stateShape else { throw KernelError("\(role) must be \(stateShape), got \(state.shape)") }
            return batchMajor ? try Transpose(perm: [1, 0, 2]).run([state], workspace)[0] : state
        }
        let initialH = try initialState(5, "initial_h")
        let initialC: Tensor? = if case .lstm = cell { try initialState(6, "initial_c") } else { nil }
        let peepholes = inputs.optional(7).flatMap { p -> Tensor? in if case .lstm = cell { p } else { nil } }
        if let peepholes, peepholes.shape != [dirs, 3 * h] { throw KernelError("P must be \([dirs, 3 * h]), got \(peepholes.shape)") }

        let y = try workspace.allocate(.float, [steps, dirs, batch, h])
        // Steps past a sequence's length stay zero; when every sequence runs the whole length, every row is written.
        if !lengths.allSatisfy({ $0 == steps }) { y.floats.initialize(repeating: 0) }
        let yH = try workspace.allocate(.float, [dirs, batch, h])
        let yC = try workspace.allocate(.float, [dirs, batch, h])
        // No sequences: nothing to step through, however many time steps X claims ([T, 0, I] holds
        // no data for any T, and looping over 2^31 empty steps would hold the worker for seconds).
        for d in 0..<dirs where batch > 0 {
            try runDirection(d, x: x, w: w, r: r, bias: bias, lengths: lengths, initialH: initialH, initialC: initialC,
                             peepholes: peepholes, y: y, yH: yH, yC: yC, workspace)
        }
        var outputs = [y, yH, yC]
        if batchMajor {
            outputs = [try Transpose(perm: [2, 0, 1, 3]).run([y], workspace)[0],
                       try Transpose(perm: [1, 0, 2]).run([yH], workspace)[0],
                       try Transpose(perm: [1, 0, 2]).run([yC], workspace)[0]]
        }
        if case .lstm = cell { return outputs }
        return Array(outputs.prefix(2))
    }

    // swiftlint:disable:next function_parameter_count
    private func runDirection(_ d: Int, x: Tensor, w: Tensor, r: Tensor, bias: Tensor?, lengths: [Int],
                              initialH: Tensor?, initialC: Tensor?, peepholes: Tensor?,
                              y: Tensor, yH: Tensor, yC: Tensor, _ workspace: Workspace) throws {
        let (steps, batch, inputSize) = (x.shape[0], x.shape[1], x.shape[2])
        let h = hiddenSize, gates = gateCount, width = gates * h
        let reverse = directions[d]
        let act = activations[d]
        let pw = w.pointer(as: Float.self) + d * width * inputSize
        let pr = r.pointer(as: Float.self) + d * width * h

        // Input projection for all steps: XW[t·batch + b] = x_tb · Wᵀ + Wb (+ Rb for gates whose
        // recurrent bias is not applied separately).
        let separateCandidateBias: Bool = if case .gru = cell { true } else { false }
        // B's shape was checked against [dirs, 2·gates·h] by `run`; a constant one was folded at load.
        let biases: DirectionBiases
        if bias != nil, let constant = constantBiases?[d] {
            biases = constant
        } else {
            biases = DirectionBiases(bias, direction: d, width: width, separateCandidate: separateCandidateBias, hidden: h)
        }
        let recurrentBias = biases.recurrent, foldedBias = biases.folded
        var projected = try workspace.allocate(.float, [steps * batch, width])
        defer { workspace.recycle(&projected) }
        // In chunks of time steps, so a deadline can stop a long sequence between them.
        let chunk = 256
        for first in stride(from: 0, to: steps, by: chunk) {
            try workspace.checkpoint()
            let rows = min(chunk, steps - first) * batch
            let source = x.pointer(as: Float.self) + first * batch * inputSize
            let target = projected.pointer(as: Float.self) + first * batch * width
            if let weights = packed?[d] {
                weights.input.multiply(left: source, m: rows, lda: inputSize, into: target, ldc: width, colBias: foldedBias)
            } else {
                ds_sgemm(0, 1, rows, width, inputSize, 1, source, inputSize, pw, inputSize, 0, target, width, nil, foldedBias, Activation.none)
            }
        }

        // Hidden and cell state live in workspace memory for the whole sequence (no per-run arrays).
        var hiddenTensor = try workspace.allocate(.float, [batch, h]), cellTensor = try workspace.allocate(.float, [batch, h])
        var scratchTensor = try workspace.allocate(.float, [batch, h])
        defer { workspace.recycle(&hiddenTensor); workspace.recycle(&cellTensor); workspace.recycle(&scratchTensor) }
        let hidden = hiddenTensor.floats, cellState = cellTensor.floats, scratch = scratchTensor.floats
        if let initialH {
            hidden.baseAddress!.update(from: initialH.pointer(as: Float.self) + d * batch * h, count: batch * h)
        } else {
            hidden.initialize(repeating: 0)
        }
        if let initialC {
            cellState.baseAddress!.update(from: initialC.pointer(as: Float.self) + d * batch * h, count: batch * h)
        } else {
            cellState.initialize(repeating: 0)
        }
        let peep = peepholes.map { Array(UnsafeBufferPointer(start: $0.pointer(as: Float.self) + d * 3 * h, count: 3 * h)) }
        let py = y.pointer(as: Float.self), pp = projected.pointer(as: Float.self)
        let dirs = directions.count
        // When every sequence runs the whole length (the usual case) a step's rows of the projection lie together,
        // and the recurrent product accumulates onto them where they are; otherwise each step gathers the rows of
        // the sequences still running.
        let everySequenceFull = lengths.allSatisfy { $0 == steps }
        var gatheredTensor = try workspace.allocate(.float, [everySequenceFull ? 0 : batch, width])
        defer { workspace.recycle(&gatheredTensor) }
        let fusedCell = usesDefaultLSTMCell(act, peepholes: peep)

        // Every sequence is done after the longest one, which bounds the loop by the data actually given.
        let lastStep = lengths.max() ?? 0
        for s in 0..<lastStep {
            if s % 16 == 0 { try workspace.checkpoint() }
            let gates: UnsafeMutablePointer<Float>
            if everySequenceFull {
                gates = pp + (reverse ? steps - 1 - s : s) * batch * width
            } else {
                // A sequence that has ended keeps its state. (At least one is active: s < the longest length.)
                gates = gatheredTensor.pointer(as: Float.self)
                for b in 0..<batch where s < lengths[b] {
                    let t = reverse ? lengths[b] - 1 - s : s
                    (gates + b * width).update(from: pp + (t * batch + b) * width, count: width)
                }
            }
            let hb = UnsafePointer(hidden.baseAddress!)
            switch cell {
            case .rnn, .lstm:
                // gates += H · Rᵀ
                if let weights = packed?[d] {
                    weights.recurrent.multiply(left: hb, m: batch, lda: h, into: gates, ldc: width, beta: 1)
                } else {
                    ds_sgemm(0, 1, batch, width, h, 1, hb, h, pr, h, 1, gates, width, nil, nil, Activation.none)
                }
            case .gru(let linearBeforeReset):
                // z and r: += H · R_zrᵀ
                if let weights = packed?[d] {
                    weights.recurrent.multiply(left: hb, m: batch, lda: h, into: gates, ldc: width, beta: 1)
                } else {
                    ds_sgemm(0, 1, batch, 2 * h, h, 1, hb, h, pr, h, 1, gates, width, nil, nil, Activation.none)
                }
                if linearBeforeReset {
                    // scratch = H · R_hᵀ + Rb_h (r is applied after the activation of z/r below)
                    let candidateBias = Array(recurrentBias[(2 * h)...])
                    if let candidate = packed?[d].candidate {
                        candidate.multiply(left: hb, m: batch, lda: h, into: scratch.baseAddress!, ldc: h, colBias: candidateBias)
                    } else {
                        ds_sgemm(0, 1, batch, h, h, 1, hb, h, pr + 2 * h * h, h, 0, scratch.baseAddress!, h, nil, candidateBias,
                                 Activation.none)
                    }
                }
            }
            if fusedCell && everySequenceFull {
                // All rows at once; then the step's output rows, which lie together in Y.
                ds_lstm_cell(gates, width, batch, h, cellState.baseAddress!, hidden.baseAddress!)
                let t = reverse ? steps - 1 - s : s
                (py + (t * dirs + d) * batch * h).update(from: hidden.baseAddress!, count: batch * h)
                continue
            }
            for b in 0..<batch where s < lengths[b] {
                let t = reverse ? lengths[b] - 1 - s : s
                if fusedCell {
                    ds_lstm_cell(gates + b * width, width, 1, h, cellState.baseAddress! + b * h, hidden.baseAddress! + b * h)
                } else {
                    try update(b, g: gates + b * width, hidden: hidden, cell: cellState, scratch: scratch, act: act,
                               peep: peep, recurrentBias: recurrentBias, pr: pr, candidate: packed?[d].candidate)
                }
                (py + ((t * dirs + d) * batch + b) * h).update(from: hidden.baseAddress! + b * h, count: h)
            }
        }
        (yH.pointer(as: Float.self) + d * batch * h).update(from: hidden.baseAddress!, count: batch * h)
        (yC.pointer(as: Float.self) + d * batch * h).update(from: cellState.baseAddress!, count: batch * h)
    }

    /// Whether the cell is an LSTM with ONNX's default activations (σ, tanh, tanh) and nothing that changes its gate
    /// math (peepholes, clip, coupled input and forget gates): the cell `ds_lstm_cell` computes in one pass.
    private func usesDefaultLSTMCell(_ act: [GateActivation], peepholes: [Float]?) -> Bool {
        guard case .lstm(inputForget: false) = cell, peepholes == nil, clip == nil, act.count == 3 else { return false }
        if case .sigmoid = act[0], case .tanh = act[1], case .tanh = act[2] { return true }
        return false
    }

    /// The gate math for one sequence `b` at one step; `g` holds its pre-activations (input + recurrent).
    private func update(_ b: Int, g: UnsafeMutablePointer<Float>, hidden: UnsafeMutableBufferPointer<Float>,
                        cell cellState: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>,
                        act: [GateActivation], peep: [Float]?, recurrentBias: [Float], pr: UnsafePointer<Float>,
                        candidate: PackedMatrix?) throws {
        let h = hiddenSize
        let hb = hidden.baseAddress! + b * h, cb = cellState.baseAddress! + b * h
        func clipped(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
            guard let clip else { return }
            for i in 0..<n { p[i] = min(max(p[i], -clip), clip) }
        }
        switch cell {
        case .rnn:
            clipped(g, h)
            act[0].apply(g, h)
            for i in 0..<h { hb[i] = g[i] }
        case .lstm(let inputForget):
            // Gate order in ONNX: i, o, f, c.
            let gi = g, go = g + h, gf = g + 2 * h, gc = g + 3 * h
            if let peep {
                for i in 0..<h {
                    gi[i] += peep[i] * cb[i]
                    gf[i] += peep[2 * h + i] * cb[i]
                }
            }
            clipped(g, 4 * h)
            act[0].apply(gi, h)
            if inputForget { for i in 0..<h { gf[i] = 1 - gi[i] } } else { act[0].apply(gf, h) }
            act[1].apply(gc, h)
            for i in 0..<h { cb[i] = gf[i] * cb[i] + gi[i] * gc[i] }
            if let peep {
                for i in 0..<h { go[i] += peep[h + i] * cb[i] }
                if let clip { for i in 0..<h { go[i] = min(max(go[i], -clip), clip) } }
            }
            act[0].apply(go, h)
            let ct = scratch.baseAddress! + b * h
            for i in 0..<h { ct[i] = cb[i] }
            act[2].apply(ct, h)
            for i in 0..<h { hb[i] = go[i] * ct[i] }
        case .gru(let linearBeforeReset):
            // Gate order in ONNX: z, r, h.
            let gz = g, gr = g + h, gh = g + 2 * h
            clipped(g, 2 * h)
            act[0].apply(gz, h)
            act[0].apply(gr, h)
            if linearBeforeReset {
                let rh = scratch.baseAddress! + b * h
                for i in 0..<h { gh[i] += gr[i] * rh[i] }
            } else {
                // gh += (r ⊙ H) · R_hᵀ + Rb_h
                var gated = [Float](repeating: 0, count: h)
                for i in 0..<h { gated[i] = gr[i] * hb[i] }
                let candidateBias = Array(recurrentBias[(2 * h)...])
                if let candidate {
                    candidate.multiply(left: gated, m: 1, lda: h, into: gh, ldc: h, beta: 1, colBias: candidateBias)
                } else {
                    ds_sgemm(0, 1, 1, h, h, 1, gated, h, pr + 2 * h * h, h, 1, gh, h, nil, candidateBias, Activation.none)
                }
            }
            clipped(gh, h)
            act[1].apply(gh, h)
            for i in 0..<h { hb[i] = (1 - gz[i]) * gh[i] + gz[i] * hb[i] }
        }
    }
}

/// The activation functions ONNX allows inside recurrent cells.
enum GateActivation: Sendable {
    case sigmoid, tanh, relu, softsign, softplus
    case leakyRelu(Float), thresholdedRelu(Float), elu(Float)
    case hardSigmoid(Float, Float), affine(Float, Float), scaledTanh(Float, Float)

    /// Parses a name, consuming alpha/beta values in order for the functions that take them.
    init?(name: String, alphas: inout [Float], betas: inout [Float]) throws {
        func next(_ values: inout [Float], _ fallback: Float) -> Float {
            values.isEmpty ? fallback : values.removeFirst()
        }
        switch name.lowercased() {
        case "sigmoid": self = .sigmoid
        case "tanh": self = .tanh
        case "relu": self = .relu
        case "softsign": self = .softsign
        case "softplus": self = .softplus
        case "leakyrelu": self = .leakyRelu(next(&alphas, 0.01))
        case "thresholdedrelu": self = .thresholdedRelu(next(&alphas, 1))
        case "elu": self = .elu(next(&alphas, 1))
        case "hardsigmoid": self = .hardSigmoid(next(&alphas, 0.2), next(&betas, 0.5))
        case "affine": self = .affine(next(&alphas, 1), next(&betas, 0))
        case "scaledtanh": self = .scaledTanh(next(&alphas, 1), next(&betas, 1))
        default: return nil
        }
    }

    func apply(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        switch self {
        case .sigmoid: ds_vsigmoid(p, p, n)
        case .tanh: ds_vtanh(p, p, n)
        case .relu: for i in 0..<n { p[i] = max(p[i], 0) }
        case .softsign: for i in 0..<n { p[i] = p[i] / (1 + abs(p[i])) }
        case .softplus: for i in 0..<n { p[i] = log1pf(expf(p[i])) }
        case .leakyRelu(let alpha): for i in 0..<n { p[i] = p[i] >= 0 ? p[i] : alpha * p[i] }
        case .thresholdedRelu(let alpha): for i in 0..<n { p[i] = p[i] > alpha ? p[i] : 0 }
        case .elu(let alpha): for i in 0..<n { p[i] = p[i] >= 0 ? p[i] : alpha * (expf(p[i]) - 1) }
        case .hardSigmoid(let alpha, let beta): for i in 0..<n { p[i] = min(max(alpha * p[i] + beta, 0), 1) }
        case .affine(let alpha, let beta): for i in 0..<n { p[i] = alpha * p[i] + beta }
        case .scaledTanh(let alpha, let beta): for i in 0..<n { p[i] = alpha * tanhf(beta * p[i]) }
        }
    }
}
