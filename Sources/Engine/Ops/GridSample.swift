#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GridSample on [N, C, H, W] or [N, C, D, H, W]: each output pixel samples the input at the
/// grid's normalised (x, y[, z]) in [-1, 1] — nearest, (bi/tri)linear or bicubic (Keys, a = -0.75)
/// — with zeros, border or reflection padding, corners at pixel centres (align_corners) or edges.
/// Follows the ONNX reference: out-of-range coordinates are clamped or reflected first, then every
/// tap is padded — except cubic with border padding, where the coordinate is left as is and only
/// the taps are clamped, as onnxruntime and PyTorch do (the ONNX reference clamps the coordinate too).
struct GridSample: Operator {
    enum Mode: Sendable { case nearest, linear, cubic }
    enum Padding: String, Sendable { case zeros, border, reflection }
    let mode: Mode
    let padding: Padding
    let alignCorners: Bool

    init(_ context: NodeContext) throws {
        switch try context.attributes.string("mode", default: context.opset < 20 ? "bilinear" : "linear") {
        case "nearest": mode = .nearest
        case "bilinear", "linear": mode = .linear
        case "bicubic", "cubic": mode = .cubic
        case let other: throw context.invalid("mode", "must be nearest, linear or cubic (bilinear, bicubic), is '\(other)'")
        }
        let name = try context.attributes.string("padding_mode", default: "zeros")
        guard let padding = Padding(rawValue: name) else { throw context.invalid("padding_mode", "must be zeros, border or reflection, is '\(name)'") }
        self.padding = padding
        alignCorners = try context.attributes.flag("align_corners", default: false)
    }

    func run(_ inputs: [Tensor?], _ workspace: Workspace) throws -> [Tensor] {
        let x = try inputs.required(0), grid = try inputs.required(1)
        try x.expect(.float, role: "X")
        try grid.expect(.float, role: "grid")
        guard x.rank == 4 || x.rank == 5 else { throw KernelError("input must be [N, C, H, W] or [N, C, D, H, W], is \(x.shape)") }
        let dims = x.rank - 2
        guard grid.rank == x.rank, grid.shape[0] == x.shape[0], grid.shape[x.rank - 1] == dims else {
            throw KernelError("grid \(grid.shape) must be [N, out…, \(dims)] for input \(x.shape)")
        }
        let (n, channels, spatial) = (x.shape[0], x.shape[1], Array(x.shape[2...]))
        let outSpatial = Array(grid.shape[1..<(x.rank - 1)])
        let out = try workspace.allocate(.float, [n, channels] + outSpatial)
        if out.count == 0 { return [out] }
        guard !spatial.contains(0) else { throw KernelError("cannot sample an empty image \(x.shape)") }
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self), g = grid.pointer(as: Float.self)
        let pixels = outSpatial.reduce(1, *), planeSize = spatial.reduce(1, *)
        var sampler = Sampler(sizes: spatial, padding: padding, alignCorners: alignCorners, mode: mode)
        for b in 0..<n {
            for c in 0..<channels {
                try workspace.checkpoint()
                let plane = src + (b * channels + c) * planeSize
                for p in 0..<pixels {
                    if p & 0xFFF == 0xFFF { try workspace.checkpoint() }
                    // The grid's last axis is (x, y[, z]): the reverse of the input's axes.
                    for i in 0..<dims {
                        let normalised = g[(b * pixels + p) * dims + dims - 1 - i]
                        sampler.coordinate[i] = sampler.adjusted(sampler.denormalize(normalised, spatial[i]), axis: i)
                    }
                    dst[(b * channels + c) * pixels + p] = sampler.sample(plane)
                }
            }
        }
        return [out]
    }

    /// Samples one plane (or volume); its coordinate and tap buffers are reused from pixel to pixel.
    private struct Sampler {
        let sizes: [Int], strides: [Int]
        let padding: Padding
        let alignCorners: Bool
        let mode: Mode
        var coordinate: [Float]
        private var base: [Int], weights: [[Float]]

        init(sizes: [Int], padding: Padding, alignCorners: Bool, mode: Mode) {
            (self.sizes, self.padding, self.alignCorners, self.mode) = (sizes, padding, alignCorners, mode)
            strides = contiguousStrides(sizes)
            coordinate = Array(repeating: 0, count: sizes.count)
            base = Array(repeating: 0, count: sizes.count)
            weights = Array(repeating: [0, 0, 0, 0], count: sizes.count)
        }

        func denormalize(_ v: Float, _ size: Int) -> Float {
            alignCorners ? (v + 1) / 2 * Float(size - 1) : ((v + 1) * Float(size) - 1) / 2
        }

        /// The coordinate range the padding modes reflect or clamp into.
        func bounds(_ size: Int) -> (Float, Float) { alignCorners ? (0, Float(size - 1)) : (-0.5, Float(size) - 0.5) }

        /// Rounded (nearest), then clamped or reflected when outside the bounds; then kept within a
        /// few pixels of the image so that converting it to an index cannot overflow (any tap that
        /// far out is padding either way).
        func adjusted(_ value: Float, axis: Int) -> Float {
            let size = sizes[axis]
            var v = mode == .nearest ? value.rounded(.toNearestOrEven) : value
            let (low, high) = bounds(size)
            if v < low || v > high {
                switch padding {
                case .zeros: break
                case .border: if mode != .cubic { v = min(max(v, 0), Float(size - 1)) }
                case .reflection: v = Self.reflect(v, low, high)
                }
            }
            return min(max(v, -8), Float(size) + 8)   // NaN stays NaN: the taps below read it as 0
        }

        static func reflect(_ v: Float, _ low: Float, _ high: Float) -> Float {
            let range = high - low
            guard v < low || v > high else { return v }
            guard range > 0 else { return low }
            if v < low {
                let d = low - v, k = (d / range).rounded(.towardZero), r = d - k * range
                return k.truncatingRemainder(dividingBy: 2) == 0 ? low + r : high - r
            }
            let d = v - high, k = (d / range).rounded(.towardZero), r = d - k * range
            return k.truncatingRemainder(dividingBy: 2) == 0 ? high - r : low + r
        }

        /// The position of tap `i` on `axis` after padding; nil where zeros padding reads outside.
        private func index(_ i: Int, axis: Int) -> Int? {
            let size = sizes[axis]
            switch padding {
            case .zeros: return i >= 0 && i < size ? i : nil
            case .border: return min(max(i, 0), size - 1)
            case .reflection:
                let (low, high) = bounds(size)
                return min(max(Int(saturating: Self.reflect(Float(i), low, high)), 0), size - 1)
            }
        }

        mutating func sample(_ plane: UnsafeMutablePointer<Float>) -> Float {
            let dims = sizes.count
            if mode == .nearest {
                var offset = 0
                for axis in 0..<dims {
                    guard let i = index(Int(saturating: coordinate[axis]), axis: axis) else { return 0 }
                    offset += i * strides[axis]
                }
                return plane[offset]
            }
            // Taps per axis: 2 (linear) or 4 (cubic), from base; weights by axis.
            let taps = mode == .linear ? 2 : 4, first = mode == .linear ? 0 : -1
            for axis in 0..<dims {
                let floor = coordinate[axis].rounded(.down)
                base[axis] = Int(saturating: floor) + first
                let t = coordinate[axis] - floor
                if mode == .linear {
                    (weights[axis][0], weights[axis][1]) = (1 - t, t)
                } else {
                    let a: Float = -0.75, x = abs(t)
                    weights[axis][0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
                    weights[axis][1] = ((a + 2) * x - (a + 3)) * x * x + 1
                    weights[axis][2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
                    weights[axis][3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a
                }
            }
            var total = 1
            for _ in 0..<dims { total *= taps }
            var result: Float = 0
            for tap in 0..<total {
                var rest = tap, weight: Float = 1, offset = 0, inside = true
                for axis in stride(from: dims - 1, through: 0, by: -1) {
                    let j = rest % taps
                    rest /= taps
                    weight *= weights[axis][j]
                    if let i = index(base[axis] + j, axis: axis) { offset += i * strides[axis] } else { inside = false }
                }
                if inside { result += weight * plane[offset] }
            }
            return result
        }
    }
}
