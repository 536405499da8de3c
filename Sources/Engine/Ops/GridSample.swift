#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GridSample on 4-d [N, C, H, W]: each output pixel samples the input at the grid's normalised
/// (x, y) in [-1, 1] — nearest, bilinear or bicubic (Keys, a = -0.75) — with zeros, border or
/// reflection padding, corners at pixel centres (align_corners) or edges. Follows the ONNX
/// reference: out-of-range coordinates are clamped or reflected first, then every tap is padded —
/// except bicubic with border padding, where the coordinate is left as is and only the taps are
/// clamped, as onnxruntime and PyTorch do (the ONNX reference clamps the coordinate too).
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
        guard x.rank == 4 else { throw KernelError("only 4-d input [N, C, H, W] is supported, got \(x.shape)") }
        guard grid.rank == 4, grid.shape[0] == x.shape[0], grid.shape[3] == 2 else {
            throw KernelError("grid \(grid.shape) must be [N, H_out, W_out, 2] for input \(x.shape)")
        }
        let (n, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outHeight, outWidth) = (grid.shape[1], grid.shape[2])
        let out = try workspace.allocate(.float, [n, channels, outHeight, outWidth])
        if out.count == 0 { return [out] }
        guard height > 0, width > 0 else { throw KernelError("cannot sample an empty image \(x.shape)") }
        let src = x.pointer(as: Float.self), dst = out.pointer(as: Float.self), g = grid.pointer(as: Float.self)
        let pixels = outHeight * outWidth
        for b in 0..<n {
            for c in 0..<channels {
                try workspace.checkpoint()
                let plane = Plane(data: src + (b * channels + c) * height * width, height: height, width: width,
                                  padding: padding, alignCorners: alignCorners)
                for p in 0..<pixels {
                    if p & 0xFFF == 0xFFF { try workspace.checkpoint() }
                    let gx = g[(b * pixels + p) * 2], gy = g[(b * pixels + p) * 2 + 1]
                    let sx = plane.adjusted(plane.denormalize(gx, width), width, mode: mode)
                    let sy = plane.adjusted(plane.denormalize(gy, height), height, mode: mode)
                    dst[(b * channels + c) * pixels + p] = plane.sample(y: sy, x: sx, mode: mode)
                }
            }
        }
        return [out]
    }

    private struct Plane {
        let data: UnsafeMutablePointer<Float>
        let height: Int, width: Int
        let padding: Padding
        let alignCorners: Bool

        func denormalize(_ v: Float, _ size: Int) -> Float {
            alignCorners ? (v + 1) / 2 * Float(size - 1) : ((v + 1) * Float(size) - 1) / 2
        }

        /// The coordinate range the padding modes reflect or clamp into.
        func bounds(_ size: Int) -> (Float, Float) { alignCorners ? (0, Float(size - 1)) : (-0.5, Float(size) - 0.5) }

        /// Rounded (nearest), then clamped or reflected when outside the bounds; then kept within a
        /// few pixels of the image so that converting it to an index cannot overflow (any tap that
        /// far out is padding either way).
        func adjusted(_ value: Float, _ size: Int, mode: Mode) -> Float {
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

        /// The pixel at an integer position, padded.
        func pixel(_ y: Int, _ x: Int) -> Float {
            guard let row = index(y, height), let column = index(x, width) else { return 0 }
            return data[row * width + column]
        }

        private func index(_ i: Int, _ size: Int) -> Int? {
            switch padding {
            case .zeros: return i >= 0 && i < size ? i : nil
            case .border: return min(max(i, 0), size - 1)
            case .reflection:
                let (low, high) = bounds(size)
                return min(max(Int(saturating: Self.reflect(Float(i), low, high)), 0), size - 1)
            }
        }

        func sample(y: Float, x: Float, mode: Mode) -> Float {
            switch mode {
            case .nearest:
                return pixel(Int(saturating: y), Int(saturating: x))
            case .linear:
                let y0 = Int(saturating: y.rounded(.down)), x0 = Int(saturating: x.rounded(.down))
                let ty = y - Float(y0), tx = x - Float(x0)
                let top = pixel(y0, x0) * (1 - tx) + pixel(y0, x0 + 1) * tx
                let bottom = pixel(y0 + 1, x0) * (1 - tx) + pixel(y0 + 1, x0 + 1) * tx
                return top * (1 - ty) + bottom * ty
            case .cubic:
                let y0 = Int(saturating: y.rounded(.down)), x0 = Int(saturating: x.rounded(.down))
                let cy = Self.cubicCoefficients(y - Float(y0)), cx = Self.cubicCoefficients(x - Float(x0))
                var result: Float = 0
                for i in 0..<4 {
                    var row: Float = 0
                    for j in 0..<4 { row += cx[j] * pixel(y0 - 1 + i, x0 - 1 + j) }
                    result += cy[i] * row
                }
                return result
            }
        }

        static func cubicCoefficients(_ t: Float) -> [Float] {
            let a: Float = -0.75, x = abs(t)
            return [
                ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a,
                ((a + 2) * x - (a + 3)) * x * x + 1,
                ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1,
                ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a,
            ]
        }
    }
}
