import CKernels

/// An element-wise function that can run inside another kernel's epilogue (Conv + Relu, …).
enum Activation: Sendable, Equatable {
    case relu
    case leakyRelu(alpha: Float)
    case clip(min: Float, max: Float)
    case sigmoid
    case tanh
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish
    /// x · sigmoid(x): not an ONNX operator of its own, the rewrites find it as Mul(x, Sigmoid(x)).
    case silu
    /// x/2 · (1 + erf(x/√2)), the exact form (ONNX Gelu with approximate = "none").
    case gelu

    var kernelDescriptor: ds_activation {
        switch self {
        case .relu: ds_activation(kind: DS_ACTIVATION_RELU, alpha: 0, beta: 0)
        case .leakyRelu(let alpha): ds_activation(kind: DS_ACTIVATION_LEAKY_RELU, alpha: alpha, beta: 0)
        case .clip(let min, let max): ds_activation(kind: DS_ACTIVATION_CLIP, alpha: min, beta: max)
        case .sigmoid: ds_activation(kind: DS_ACTIVATION_SIGMOID, alpha: 0, beta: 0)
        case .tanh: ds_activation(kind: DS_ACTIVATION_TANH, alpha: 0, beta: 0)
        case .hardSigmoid(let alpha, let beta): ds_activation(kind: DS_ACTIVATION_HARD_SIGMOID, alpha: alpha, beta: beta)
        case .hardSwish: ds_activation(kind: DS_ACTIVATION_HARD_SWISH, alpha: 0, beta: 0)
        case .silu: ds_activation(kind: DS_ACTIVATION_SILU, alpha: 0, beta: 0)
        case .gelu: ds_activation(kind: DS_ACTIVATION_GELU, alpha: 0, beta: 0)
        }
    }

    var name: String {
        switch self {
        case .relu: "Relu"
        case .leakyRelu: "LeakyRelu"
        case .clip: "Clip"
        case .sigmoid: "Sigmoid"
        case .tanh: "Tanh"
        case .hardSigmoid: "HardSigmoid"
        case .hardSwish: "HardSwish"
        case .silu: "SiLU"
        case .gelu: "Gelu"
        }
    }

    static let none = ds_activation(kind: DS_ACTIVATION_NONE, alpha: 0, beta: 0)

    /// Applies the activation in place.
    func apply(_ values: UnsafeMutableBufferPointer<Float>) {
        ds_activation_apply(values.baseAddress, values.count, kernelDescriptor)
    }
}

/// An operator that is itself a fusable activation (Relu, Clip with constant bounds, …).
protocol ActivationOperator: Operator {
    /// nil when this instance cannot be fused (Clip whose bounds are only known at run time).
    var fusableActivation: Activation? { get }
}

/// An operator that can absorb the activation applied to its only output.
protocol ActivationFusing: Operator {
    func fused(with activation: Activation) -> any Operator
}
