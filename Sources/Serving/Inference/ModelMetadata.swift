import Engine

/// A model version's interface, protocol-neutral.
struct ModelMetadata: Sendable {
    struct TensorSpec: Sendable {
        let name: String
        /// nil when the graph declares a type the engine does not support.
        let datatype: DataType?
        /// The graph's name for the element type (what an error names when `datatype` is nil).
        let typeName: String
        /// -1 for a dimension of variable size.
        let shape: [Int]
    }

    let name: String
    /// The versions serving, highest first.
    let versions: [Int]
    let platform: String
    let inputs: [TensorSpec]
    let outputs: [TensorSpec]
}
