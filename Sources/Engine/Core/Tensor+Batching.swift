/// Joining and splitting tensors along axis 0, as a batching scheduler does.
extension Tensor {
    /// The tensors stacked along their first axis; all must share element type and the other dimensions.
    public static func concatenate(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw EngineError.invalidModel(reason: "nothing to concatenate") }
        guard parts.allSatisfy({ $0.dataType == first.dataType && $0.rank == first.rank && $0.rank >= 1
                                   && $0.shape.dropFirst() == first.shape.dropFirst() }) else {
            throw EngineError.invalidInput(node: "batch", opType: "Concat",
                                           reason: "tensors \(parts.map(\.description)) cannot be stacked along axis 0")
        }
        // Requests' shapes are not checked yet: empty ones may claim huge first dimensions.
        var rows = 0
        for part in parts {
            let (sum, overflow) = rows.addingReportingOverflow(part.shape[0])
            guard !overflow, part.shape[0] >= 0 else {
                throw EngineError.invalidInput(node: "batch", opType: "Concat", reason: "the batch's first dimensions add up to more than can be counted")
            }
            rows = sum
        }
        let shape = [rows] + first.shape.dropFirst()
        guard (try? checkedElementCount(shape)) != nil else {
            throw EngineError.invalidInput(node: "batch", opType: "Concat", reason: "a batch of shape \(shape) has more elements than can be counted")
        }
        let out = Tensor(uninitialized: first.dataType, shape: shape)
        var offset = 0
        for part in parts {
            (out.storage.bytes + offset).copyMemory(from: part.storage.bytes, byteCount: part.byteCount)
            offset += part.byteCount
        }
        return out
    }

    /// A copy of rows `range` of the first axis.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
        let rowBytes = Self.elementCount(Array(shape.dropFirst())) * dataType.size
        let out = Tensor(uninitialized: dataType, shape: [range.count] + shape.dropFirst())
        out.storage.bytes.copyMemory(from: storage.bytes + range.lowerBound * rowBytes, byteCount: range.count * rowBytes)
        return out
    }
}
