import Engine

/// TensorFlow Serving's JSON answers (the JSON mapping of its GetModelStatusResponse and GetModelMetadataResponse
/// protobufs, and the predict answers), as `Encodable` types whose property names are its keys.
enum TFAnswers {
    struct Status: Encodable {
        struct VersionStatus: Encodable {
            struct Detail: Encodable {
                let error_code: String
                let error_message: String
            }
            let version: String
            let state: String
            let status: Detail
        }
        let model_version_status: [VersionStatus]

        /// Every version listed is serving: AVAILABLE with OK.
        init(versions: [Int]) {
            model_version_status = versions.map {
                VersionStatus(version: String($0), state: "AVAILABLE", status: .init(error_code: "OK", error_message: ""))
            }
        }
    }

    struct Metadata: Encodable {
        struct ModelSpec: Encodable {
            let name: String
            let signature_name: String
            let version: String
        }
        struct TensorInfo: Encodable {
            struct Shape: Encodable {
                struct Dim: Encodable {
                    let size: String   // int64 in proto3 JSON is a string
                    let name: String
                }
                let dim: [Dim]
                let unknown_rank: Bool
            }
            let dtype: String
            let tensor_shape: Shape
            let name: String
        }
        struct Signature: Encodable {
            let inputs: [String: TensorInfo]
            let outputs: [String: TensorInfo]
            let method_name: String
        }
        struct SignatureDefs: Encodable { let signature_def: [String: Signature] }
        struct Contents: Encodable { let signature_def: SignatureDefs }

        let model_spec: ModelSpec
        let metadata: Contents

        init(_ model: Serving.ModelMetadata, version: Int) {
            func infos(_ specs: [Serving.ModelMetadata.TensorSpec]) -> [String: TensorInfo] {
                Dictionary(specs.map { spec in
                    (spec.name, TensorInfo(dtype: spec.datatype.map(TFAnswers.dtype) ?? "DT_INVALID",
                                           tensor_shape: .init(dim: spec.shape.map { .init(size: String($0), name: "") }, unknown_rank: false),
                                           name: spec.name))
                }, uniquingKeysWith: { first, _ in first })
            }
            model_spec = ModelSpec(name: model.name, signature_name: "", version: String(version))
            metadata = Contents(signature_def: SignatureDefs(signature_def: [
                "serving_default": Signature(inputs: infos(model.inputs), outputs: infos(model.outputs),
                                             method_name: "tensorflow/serving/predict"),
            ]))
        }
    }

    /// TensorFlow's names for our element types.
    static func dtype(_ type: DataType) -> String {
        switch type {
        case .float: "DT_FLOAT"
        case .double: "DT_DOUBLE"
        case .int8: "DT_INT8"
        case .int16: "DT_INT16"
        case .int32: "DT_INT32"
        case .int64: "DT_INT64"
        case .uint8: "DT_UINT8"
        case .uint16: "DT_UINT16"
        case .uint32: "DT_UINT32"
        case .uint64: "DT_UINT64"
        case .bool: "DT_BOOL"
        }
    }

    /// `{"predictions": …}` (row format) or `{"outputs": …}` (columnar).
    struct Predictions: Encodable {
        var predictions: Value?
        var outputs: Value?
    }

    /// A single output's values, or an object of named outputs, or (row format, several outputs) a list of them.
    indirect enum Value: Encodable {
        case tensor(TFNestedTensor)
        case named([String: Value])
        case list([Value])

        func encode(to encoder: Encoder) throws {
            switch self {
            case .tensor(let tensor): try tensor.encode(to: encoder)
            case .named(let values): try values.encode(to: encoder)
            case .list(let values): try values.encode(to: encoder)
            }
        }
    }
}

/// A tensor (or one row of it) as nested JSON lists in its shape: `[[1, 2], [3, 4]]`; a scalar as a bare number.
/// NaN and infinity, which JSON cannot write, are null.
struct TFNestedTensor: Encodable {
    let tensor: Tensor
    /// nil: the whole tensor; else only this index along axis 0.
    var row: Int?

    func encode(to encoder: Encoder) throws {
        let shape = row == nil ? tensor.shape : Array(tensor.shape.dropFirst())
        let rowElements = shape.reduce(1, *)   // a tensor the engine made: its element count fits
        let start = (row ?? 0) * rowElements
        if shape.isEmpty {
            var container = encoder.singleValueContainer()
            try Leaves(tensor).encode(start, into: &container)
            return
        }
        var container = encoder.unkeyedContainer()
        try Leaves(tensor).encode(shape: shape[...], start: start, into: &container)
    }

    /// The tensor's values read once into the array type JSON writes them from.
    private enum Leaves {
        case floats([Float]), doubles([Double]), bools([Bool]), unsigned([UInt64]), signed([Int64])

        init(_ tensor: Tensor) {
            switch tensor.dataType {
            case .float: self = .floats(tensor.floatArray())
            case .double: self = .doubles(tensor.doubleArray())
            case .bool: self = .bools(tensor.data.map { $0 != 0 })
            case .uint64: self = .unsigned(tensor.uint64Array())
            default: self = .signed(tensor.int64Array())
            }
        }

        func encode(_ index: Int, into container: inout SingleValueEncodingContainer) throws {
            switch self {
            case .floats(let values): if values[index].isFinite { try container.encode(values[index]) } else { try container.encodeNil() }
            case .doubles(let values): if values[index].isFinite { try container.encode(values[index]) } else { try container.encodeNil() }
            case .bools(let values): try container.encode(values[index])
            case .unsigned(let values): try container.encode(values[index])
            case .signed(let values): try container.encode(values[index])
            }
        }

        func append(_ index: Int, to container: inout UnkeyedEncodingContainer) throws {
            switch self {
            case .floats(let values): if values[index].isFinite { try container.encode(values[index]) } else { try container.encodeNil() }
            case .doubles(let values): if values[index].isFinite { try container.encode(values[index]) } else { try container.encodeNil() }
            case .bools(let values): try container.encode(values[index])
            case .unsigned(let values): try container.encode(values[index])
            case .signed(let values): try container.encode(values[index])
            }
        }

        func encode(shape: ArraySlice<Int>, start: Int, into container: inout UnkeyedEncodingContainer) throws {
            let count = shape.first!
            let inner = shape.dropFirst()
            if inner.isEmpty {
                for index in 0..<count { try append(start + index, to: &container) }
                return
            }
            let stride = inner.reduce(1, *)
            for index in 0..<count {
                var nested = container.nestedUnkeyedContainer()
                try encode(shape: inner, start: start + index * stride, into: &nested)
            }
        }
    }
}
