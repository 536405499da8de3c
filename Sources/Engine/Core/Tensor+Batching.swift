/// Joining and splitting tensors along a batch axis, as a batching scheduler does. The batch axis is 0 for most
/// inputs; a recurrent state such as an LSTM's `h` [layers, batch, hidden] keeps it on axis 1.
extension Tensor {
    /// The tensors stacked along their first axis; all must share element type and the other dimensions.
    public static func concatenate(_ parts: [Tensor]) throws -> Tensor {
        try concatenate(parts, axis: 0)
    }

    /// The tensors joined along `axis`; all must share element type, rank (> `axis`) and every other dimension.
    public static func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor {
        guard let first = parts.first else { throw EngineError.invalidModel(reason: "nothing to concatenate") }
        guard axis >= 0, axis < first.rank, parts.allSatisfy({ $0.dataType == first.dataType && $0.rank == first.rank
                                                               && Self.dimensions($0.shape, except: axis) == Self.dimensions(first.shape, except: axis) }) else {
            throw EngineError.invalidInput(node: "batch", opType: "Concat",
                                           reason: "tensors \(parts.map(\.description)) cannot be joined along axis \(axis)")
        }
        // Requests' shapes are not checked yet: empty ones may claim huge batch dimensions.
        var rows = 0
        for part in parts {
            let (sum, overflow) = rows.addingReportingOverflow(part.shape[axis])
            guard !overflow, part.shape[axis] >= 0 else {
                throw EngineError.invalidInput(node: "batch", opType: "Concat", reason: "the batch's sizes along axis \(axis) add up to more than can be counted")
            }
            rows = sum
        }
        var shape = first.shape
        shape[axis] = rows
        guard (try? checkedElementCount(shape)) != nil else {
            throw EngineError.invalidInput(node: "batch", opType: "Concat", reason: "a batch of shape \(shape) has more elements than can be counted")
        }
        let out = Tensor(uninitialized: first.dataType, shape: shape)
        guard out.count > 0 else { return out }
        // Row-major: the axis splits each tensor into `outer` blocks of shape[axis] × `inner` contiguous bytes.
        let outer = elementCount(Array(first.shape[..<axis]))
        let inner = elementCount(Array(first.shape[(axis + 1)...])) * first.dataType.size
        let outBlock = rows * inner
        var offset = 0
        for part in parts {
            let block = part.shape[axis] * inner
            for o in 0..<outer where block > 0 {
                (out.storage.bytes + o * outBlock + offset).copyMemory(from: part.storage.bytes + o * block, byteCount: block)
            }
            offset += block
        }
        return out
    }

    /// A copy of rows `range` of the first axis.
    public func rows(_ range: Range<Int>) -> Tensor {
        slice(range, axis: 0)
    }

    /// A copy of indices `range` along `axis` (which the caller has checked: `axis < rank`, `range` inside it).
    public func slice(_ range: Range<Int>, axis: Int) -> Tensor {
        precondition(axis >= 0 && axis < rank && range.lowerBound >= 0 && range.upperBound <= shape[axis], "slice \(range) on axis \(axis) of \(shape)")
        var outShape = shape
        outShape[axis] = range.count
        let out = Tensor(uninitialized: dataType, shape: outShape)
        guard out.count > 0 else { return out }
        let outer = Self.elementCount(Array(shape[..<axis]))
        let inner = Self.elementCount(Array(shape[(axis + 1)...])) * dataType.size
        let block = shape[axis] * inner, outBlock = range.count * inner
        for o in 0..<outer {
            (out.storage.bytes + o * outBlock).copyMemory(from: storage.bytes + o * block + range.lowerBound * inner, byteCount: outBlock)
        }
        return out
    }

    private static func dimensions(_ shape: [Int], except axis: Int) -> [Int] {
        var rest = shape
        rest.remove(at: axis)
        return rest
    }
}
