/// The sliding-window attributes shared by Conv, ConvTranspose and the pools, validated once at
/// load, and the output size and padding they give for a concrete input.
struct SpatialWindow: Sendable {
    enum AutoPad: String, Sendable { case notSet = "NOTSET", sameUpper = "SAME_UPPER", sameLower = "SAME_LOWER", valid = "VALID" }

    /// nil: taken from the weight's shape at run time (Conv without kernel_shape).
    let kernel: [Int]?
    let strides: [Int]?
    let dilations: [Int]?
    /// Begin values for every spatial axis, then end values (ONNX order).
    let pads: [Int]?
    let autoPad: AutoPad
    let ceilMode: Bool

    init(_ context: NodeContext, requireKernel: Bool) throws {
        let a = context.attributes
        kernel = try a.ints("kernel_shape")
        strides = try a.ints("strides")
        dilations = try a.ints("dilations")
        pads = try a.ints("pads")
        let autoPadName = try a.string("auto_pad", default: "NOTSET")
        guard let autoPad = AutoPad(rawValue: autoPadName) else {
            throw context.invalid("auto_pad", "must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, is '\(autoPadName)'")
        }
        self.autoPad = autoPad
        ceilMode = try a.flag("ceil_mode", default: false)
        if requireKernel && kernel == nil { throw context.invalid("kernel_shape", "is required") }
        // Bounds that keep the window arithmetic far from overflow; no real network comes close.
        for (name, values) in [("kernel_shape", kernel), ("strides", strides), ("dilations", dilations), ("pads", pads)] {
            // A range, not abs: abs(Int.min) traps.
            if let values, values.contains(where: { !(-(1 << 24)...(1 << 24)).contains($0) }) { throw context.invalid(name, "is out of range: \(values)") }
        }
        if let kernel, kernel.contains(where: { $0 <= 0 }) { throw context.invalid("kernel_shape", "must be positive, is \(kernel)") }
        if let strides, strides.contains(where: { $0 <= 0 }) { throw context.invalid("strides", "must be positive, is \(strides)") }
        if let dilations, dilations.contains(where: { $0 <= 0 }) { throw context.invalid("dilations", "must be positive, is \(dilations)") }
        if let pads, pads.contains(where: { $0 < 0 }) { throw context.invalid("pads", "must not be negative, is \(pads)") }
        for (name, value) in [("strides", strides), ("dilations", dilations)] {
            if let value, let kernel, value.count != kernel.count {
                throw context.invalid(name, "has \(value.count) values for a \(kernel.count)-d kernel")
            }
        }
        if let pads, let kernel, pads.count != 2 * kernel.count {
            throw context.invalid("pads", "has \(pads.count) values for a \(kernel.count)-d kernel")
        }
    }

    /// Geometry for one input: per spatial axis the kernel, stride, dilation, padding and output size.
    struct Resolved {
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        var padBegin: [Int]
        var padEnd: [Int]
        var output: [Int]
    }

    /// Resolves the window against input spatial dims (`kernel` given when it comes from a weight).
    func resolve(input: [Int], kernel weightKernel: [Int]? = nil) throws -> Resolved {
        let rank = input.count
        guard let kernel = kernel ?? weightKernel, kernel.count == rank else {
            throw KernelError("kernel of rank \((kernel ?? weightKernel)?.count ?? 0) does not fit \(rank) spatial dimensions")
        }
        // A weight given at run time (possibly empty, with huge dimensions) gets the attributes' bounds.
        guard kernel.allSatisfy({ (1...(1 << 24)).contains($0) }) else { throw KernelError("kernel \(kernel) is out of range") }
        let strides = strides ?? Array(repeating: 1, count: rank)
        let dilations = dilations ?? Array(repeating: 1, count: rank)
        guard strides.count == rank, dilations.count == rank else {
            throw KernelError("strides/dilations do not fit \(rank) spatial dimensions")
        }
        var padBegin = Array(pads?.prefix(rank) ?? [], default: 0, count: rank)
        var padEnd = Array(pads?.suffix(rank) ?? [], default: 0, count: rank)
        var output = [Int](repeating: 0, count: rank)
        for axis in 0..<rank {
            let extent = (kernel[axis] - 1) * dilations[axis] + 1
            switch autoPad {
            case .sameUpper, .sameLower:
                output[axis] = (input[axis] + strides[axis] - 1) / strides[axis]
                let total = max(0, (output[axis] - 1) * strides[axis] + extent - input[axis])
                let small = total / 2
                padBegin[axis] = autoPad == .sameUpper ? small : total - small
                padEnd[axis] = total - padBegin[axis]
            case .valid:
                padBegin[axis] = 0
                padEnd[axis] = 0
                output[axis] = input[axis] >= extent ? (input[axis] - extent) / strides[axis] + 1 : 0
            case .notSet:
                let span = input[axis] + padBegin[axis] + padEnd[axis] - extent
                if span < 0 {
                    output[axis] = 0
                } else if ceilMode {
                    var size = (span + strides[axis] - 1) / strides[axis] + 1
                    // The last window must start inside the input or its begin padding.
                    if (size - 1) * strides[axis] >= input[axis] + padBegin[axis] { size -= 1 }
                    output[axis] = size
                } else {
                    output[axis] = span / strides[axis] + 1
                }
            }
        }
        guard output.allSatisfy({ $0 > 0 }) else {
            throw KernelError("input \(input) is smaller than the kernel \(kernel) (dilations \(dilations), pads \(padBegin + padEnd))")
        }
        return Resolved(kernel: kernel, strides: strides, dilations: dilations, padBegin: padBegin, padEnd: padEnd, output: output)
    }
}

private extension Array where Element == Int {
    init<S: Collection>(_ values: S, default value: Int, count: Int) where S.Element == Int {
        self = values.count == count ? Array(values) : Array(repeating: value, count: count)
    }
}
