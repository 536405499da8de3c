import Engine

/// A tensor with the name a model's graph gives it.
public struct NamedTensor: Sendable {
    public let name: String
    public let tensor: Tensor

    public init(name: String, tensor: Tensor) {
        self.name = name
        self.tensor = tensor
    }
}
