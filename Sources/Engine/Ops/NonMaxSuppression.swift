/// NonMaxSuppression: per batch and class, boxes in descending score order (ties: lower index
/// first), each kept unless it overlaps a kept one by more than the IoU threshold, up to
/// `max_output_boxes_per_class` (0 when absent). Output: int64 [selected, 3] of
/// (batch, class, box). Boxes are [y1, x1, y2, x2] (either corner order) or, with
/// `center_point_box`, [x_center, y_center, width, height].
struct NonMaxSuppression: Operator {
    let centerPointBox: Bool

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let boxes = try inputs.required(0), scores = try inputs.required(1)
        try boxes.expect(.float, role: "boxes")
        try scores.expect(.float, role: "scores")
        guard boxes.rank == 3, boxes.shape[2] == 4, scores.rank == 3, scores.shape[0] == boxes.shape[0], scores.shape[2] == boxes.shape[1] else {
            throw KernelError("boxes \(boxes.shape) must be [batches, boxes, 4] and scores \(scores.shape) [batches, classes, boxes]")
        }
        var maxPerClass = 0
        if let given = inputs.optional(2), given.count > 0 {
            try given.expect(.int64, role: "max_output_boxes_per_class")
            maxPerClass = Int(clamping: max(0, given.int64Element(at: 0)))
        }
        let iouThreshold = try scalar(inputs.optional(3), role: "iou_threshold") ?? 0
        let scoreThreshold = try scalar(inputs.optional(4), role: "score_threshold")
        guard (0...1).contains(iouThreshold) else { throw KernelError("iou_threshold \(iouThreshold) must be in 0...1") }
        let (batches, classes, count) = (scores.shape[0], scores.shape[1], scores.shape[2])
        let corners = boxes.pointer(as: Float.self), score = scores.pointer(as: Float.self)
        var selected: [(Int, Int, Int)] = []
        var order: [Int] = [], kept: [Int] = []
        for b in 0..<(maxPerClass > 0 ? batches : 0) {
            for c in 0..<classes {
                try workspace.checkpoint()
                let row = score + (b * classes + c) * count
                order = (0..<count).filter { i in scoreThreshold.map { row[i] > $0 } ?? true }
                // Descending score, NaN last, ties by the lower index: a strict total order.
                order.sort { i, j in
                    let (si, sj) = (row[i], row[j])
                    if si.isNaN || sj.isNaN { return si.isNaN == sj.isNaN ? i < j : sj.isNaN }
                    return si != sj ? si > sj : i < j
                }
                kept.removeAll(keepingCapacity: true)
                for (rank, i) in order.enumerated() where kept.count < maxPerClass {
                    if rank & 0x3FF == 0x3FF { try workspace.checkpoint() }   // quadratic in the boxes of a class
                    let box = corners + (b * count + i) * 4
                    if kept.allSatisfy({ !overlaps(box, corners + (b * count + $0) * 4, more: iouThreshold) }) {
                        kept.append(i)
                        selected.append((b, c, i))
                    }
                }
            }
        }
        let out = try workspace.allocate(.int64, [selected.count, 3])
        let dst = out.pointer(as: Int64.self)
        for (n, (b, c, i)) in selected.enumerated() {
            (dst[3 * n], dst[3 * n + 1], dst[3 * n + 2]) = (Int64(b), Int64(c), Int64(i))
        }
        return [out]
    }

    private func scalar(_ tensor: Tensor?, role: String) throws -> Float? {
        guard let tensor, tensor.count > 0 else { return nil }
        try tensor.expect(.float, role: role)
        return tensor.element(at: 0)
    }

    /// Whether the intersection over union of two boxes exceeds `threshold` (as the ONNX reference:
    /// empty intersections and degenerate boxes never suppress).
    private func overlaps(_ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>, more threshold: Float) -> Bool {
        func extent(_ box: UnsafeMutablePointer<Float>) -> (x0: Float, x1: Float, y0: Float, y1: Float) {
            if centerPointBox {
                return (box[0] - box[2] / 2, box[0] + box[2] / 2, box[1] - box[3] / 2, box[1] + box[3] / 2)
            }
            return (min(box[1], box[3]), max(box[1], box[3]), min(box[0], box[2]), max(box[0], box[2]))
        }
        let p = extent(a), q = extent(b)
        let width = min(p.x1, q.x1) - max(p.x0, q.x0), height = min(p.y1, q.y1) - max(p.y0, q.y0)
        guard width > 0, height > 0 else { return false }
        let intersection = width * height
        let areaP = (p.x1 - p.x0) * (p.y1 - p.y0), areaQ = (q.x1 - q.x0) * (q.y1 - q.y0)
        let union = areaP + areaQ - intersection
        guard intersection > 0, areaP > 0, areaQ > 0, union > 0 else { return false }
        return intersection / union > threshold
    }
}
