/// The JSON answers of KServe V2 over HTTP, as `Encodable` types whose property names are the protocol's keys.
enum V2Answers {
    struct ServerMetadata: Encodable {
        let name: String
        let version: String
        let extensions: [String]
    }

    struct Live: Encodable { let live: Bool }

    struct Ready: Encodable {
        var name: String?
        let ready: Bool
    }

    struct TensorMetadata: Encodable {
        let name: String
        let datatype: String
        let shape: [Int]
    }

    struct ModelMetadata: Encodable {
        let name: String
        let versions: [String]
        let platform: String
        let inputs: [TensorMetadata]
        let outputs: [TensorMetadata]

        init(_ metadata: Serving.ModelMetadata) {
            func specs(_ values: [Serving.ModelMetadata.TensorSpec]) -> [TensorMetadata] {
                values.map { .init(name: $0.name, datatype: $0.datatype.map(TensorJSON.datatype) ?? "UNKNOWN", shape: $0.shape) }
            }
            name = metadata.name
            versions = metadata.versions.map(String.init)
            platform = metadata.platform
            inputs = specs(metadata.inputs)
            outputs = specs(metadata.outputs)
        }
    }

    struct BinaryDataSize: Encodable { let binary_data_size: Int }

    /// An output with its values in `data`, or (Triton's binary tensor extension) with only their byte count in
    /// `parameters`, the bytes following the JSON.
    struct OutputTensor: Encodable {
        let name: String
        let datatype: String
        let shape: [Int]
        var data: JSONTensorData?
        var parameters: BinaryDataSize?
    }

    struct InferResponse: Encodable {
        let model_name: String
        let model_version: String
        var id: String?
        let outputs: [OutputTensor]
    }
}

// An inference answer carries every output value: through `Encodable` each number cost a node and a container call,
// so a 784-value reconstruction spent longer in its JSON than in the network. Written directly (`JSONWritable`).
extension V2Answers.InferResponse: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.objectStart()
        if let id { json.key("id"); json.string(id) }
        json.key("model_name")
        json.string(model_name)
        json.key("model_version")
        json.string(model_version)
        json.key("outputs")
        json.arrayStart()
        for output in outputs { output.write(to: &json) }
        json.arrayEnd()
        json.objectEnd()
    }
}

extension V2Answers.OutputTensor {
    func write(to json: inout JSONWriter) {
        json.objectStart()
        if let data { json.key("data"); data.write(to: &json) }
        json.key("datatype")
        json.string(datatype)
        json.key("name")
        json.string(name)
        if let parameters {
            json.key("parameters")
            json.objectStart()
            json.key("binary_data_size")
            json.int(parameters.binary_data_size)
            json.objectEnd()
        }
        json.key("shape")
        json.arrayStart()
        for dimension in shape { json.int(dimension) }
        json.arrayEnd()
        json.objectEnd()
    }
}
