import Engine

/// A tensor's values as one flat JSON array (KServe V2's `data`): integers exact, floats as the shortest text that
/// reads back the same value, booleans as true/false, and NaN or infinity — which JSON cannot write — as null.
struct JSONTensorData: Encodable {
    let tensor: Tensor

    func encode(to encoder: Encoder) throws {
        var container = encoder.unkeyedContainer()
        switch tensor.dataType {
        case .float:
            for value in tensor.floatArray() { if value.isFinite { try container.encode(value) } else { try container.encodeNil() } }
        case .double:
            for value in tensor.doubleArray() { if value.isFinite { try container.encode(value) } else { try container.encodeNil() } }
        case .bool:
            for byte in tensor.data { try container.encode(byte != 0) }
        case .uint64:
            for value in tensor.uint64Array() { try container.encode(value) }
        default:
            for value in tensor.int64Array() { try container.encode(value) }
        }
    }
}

extension JSONTensorData {
    /// The same array as `encode(to:)` writes, straight into `json` (`V2Answers.InferResponse`'s `JSONWritable`).
    func write(to json: inout JSONWriter) {
        json.arrayStart()
        switch tensor.dataType {
        case .float:
            tensor.withUnsafeBuffer(of: Float.self) { values in
                for value in values { if value.isFinite { json.number(value) } else { json.null() } }
            }
        case .double:
            tensor.withUnsafeBuffer(of: Double.self) { values in
                for value in values { if value.isFinite { json.number(value) } else { json.null() } }
            }
        case .bool:
            for byte in tensor.data { json.bool(byte != 0) }
        case .uint64:
            for value in tensor.uint64Array() { json.int(value) }
        default:
            for value in tensor.int64Array() { json.int(value) }
        }
        json.arrayEnd()
    }
}
