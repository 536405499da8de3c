import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// Every supported operator gets random inputs — small shapes with zeros, every element type,
/// extreme values — and random attributes. Each run ends in outputs or an EngineError; a trap
/// takes the test process down, which is the point.
final class OperatorFuzzTests: XCTestCase {
    private struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 17
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
        mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }
    }

    private static let ints: [Int64] = [0, 1, 2, 3, -1, -2, -3, 4, 1 << 31, -(1 << 31), Int64.max, Int64.min]
    private static let floats: [Float] = [0, 1, -1, 0.5, 2, -0.0, .nan, .infinity, -.infinity, 1e30, -1e30]
    private static let strings = ["", "ij->ji", "...ii->...i", "i,i", "->", "ii", "bij,bjk->bik", "...,...->...", "a...b,b...c->ac...",
                                  "nearest", "linear", "cubic", "DCR", "CRD", "none", "add", "mul", "max", "min", "zeros", "border",
                                  "reflection", "half_pixel", "output_half_pixel", "avg"]
    private static let types: [DataType] = [.float, .float, .float, .int64, .int64, .int32, .bool, .uint8, .double]

    private func randomTensor(_ g: inout Generator) -> Tensor {
        let rank = g.below(5)
        let shape = (0..<rank).map { _ in g.pick([0, 1, 1, 2, 3, 4]) }
        let count = shape.reduce(1, *)
        let type = g.pick(Self.types)
        switch type {
        case .float: return Tensor(shape: shape, floats: (0..<count).map { _ in g.pick(Self.floats) })
        case .int64: return Tensor(shape: shape, int64s: (0..<count).map { _ in g.pick(Self.ints) })
        case .int32: return Tensor(shape: shape, int32s: (0..<count).map { _ in Int32(truncatingIfNeeded: g.pick(Self.ints)) })
        case .bool: return Tensor(shape: shape, bools: (0..<count).map { _ in g.below(2) == 0 })
        case .double:
            let values = (0..<count).map { _ in Double(g.pick(Self.floats)) }
            return values.withUnsafeBytes { Tensor(dataType: .double, shape: shape, bytes: $0) }
        default:
            let values = (0..<count).map { _ in UInt8(truncatingIfNeeded: g.pick(Self.ints)) }
            return values.withUnsafeBytes { Tensor(dataType: .uint8, shape: shape, bytes: $0) }
        }
    }

    private func randomAttributes(_ g: inout Generator) -> [Onnx_AttributeProto] {
        let intNames = ["axis", "keepdims", "group", "hidden_size", "to", "transA", "transB", "allowzero", "fmod", "select_last_index",
                        "storage_order", "ceil_mode", "count_include_pad", "noop_with_empty_axes", "start", "end", "layout",
                        "linear_before_reset", "input_forget", "exclude_outside", "num_outputs", "batch_dims", "largest", "sorted",
                        "exclusive", "reverse", "upper", "blocksize", "size", "num_groups", "center_point_box", "output_height",
                        "output_width", "sampling_ratio", "align_corners", "detect_positive", "detect_negative"]
        let intsNames = ["axes", "perm", "kernel_shape", "strides", "pads", "dilations", "split", "output_padding", "output_shape", "starts", "ends", "shape"]
        let floatNames = ["alpha", "beta", "epsilon", "gamma", "clip", "min", "max", "value", "cubic_coeff_a", "extrapolation_value",
                          "spatial_scale", "bias"]
        let stringNames = ["equation", "mode", "reduction", "padding_mode", "coordinate_transformation_mode"]
        var attributes: [Onnx_AttributeProto] = []
        for _ in 0..<g.below(4) {
            var attribute = Onnx_AttributeProto()
            switch g.below(4) {
            case 0:
                (attribute.name, attribute.type, attribute.i) = (g.pick(intNames), .int, g.pick(Self.ints))
            case 1:
                attribute.name = g.pick(intsNames)
                attribute.type = .ints
                attribute.ints = (0..<g.below(5)).map { _ in g.pick(Self.ints) }
            case 2:
                (attribute.name, attribute.type, attribute.f) = (g.pick(floatNames), .float, g.pick(Self.floats))
            default:
                (attribute.name, attribute.type) = (g.pick(stringNames), .string)
                attribute.s = Data(g.pick(Self.strings).utf8)
            }
            if !attributes.contains(where: { $0.name == attribute.name }) { attributes.append(attribute) }
        }
        return attributes
    }

    /// Inputs that mostly fit together: one float shape (or a suffix of it) for data, small int64
    /// vectors for the inputs ops read as sizes, indices or axes. Gets past the type checks that
    /// stop most fully random inputs.
    private func compatibleTensor(_ g: inout Generator, index: Int, base: [Int]) -> Tensor {
        if index > 0 && g.below(2) == 0 {
            let count = g.pick([0, 1, 2, base.count, 2 * base.count])
            return Tensor(shape: [count], int64s: (0..<count).map { _ in g.pick([0, 1, 2, 3, -1, -2, 4, 8] + Self.ints) })
        }
        let shape = Array(base.suffix(g.below(base.count + 1)))
        return Tensor(shape: shape, floats: (0..<shape.reduce(1, *)).map { _ in g.below(8) == 0 ? g.pick(Self.floats) : Float(g.below(5)) - 2 })
    }

    func testRandomInputsAndAttributesNeverTrap() throws {
        try fuzz(seed: 2026, compatible: false)
    }

    func testCompatibleInputsWithRandomAttributesNeverTrap() throws {
        try fuzz(seed: 7, compatible: true)
    }

    private func fuzz(seed: UInt64, compatible: Bool) throws {
        var g = Generator(state: seed)
        var outcomes = (ran: 0, rejected: 0)
        for opType in OperatorRegistry.supportedOpTypes {
            for _ in 0..<60 {
                var model = ModelBuilder()
                model.opset = g.pick([7, 11, 13, 17, 18])
                var feeds: [String: Tensor] = [:]
                var names: [String] = []
                let base = (0..<(1 + g.below(4))).map { _ in g.pick([0, 1, 2, 3, 4, 5]) }
                for index in 0..<(1 + g.below(compatible ? 6 : 4)) {
                    let tensor = compatible ? compatibleTensor(&g, index: index, base: base) : randomTensor(&g)
                    let name = "in\(index)"
                    model.input(name, tensor.shape.indices.map { .symbolic("d\(index)_\($0)") }, type: tensor.dataType.rawValue)
                    feeds[name] = tensor
                    names.append(name)
                }
                let outputs = (0..<(1 + g.below(3))).map { "out\($0)" }
                for name in outputs { model.outputs.append(ModelBuilder.valueInfo(name, 1, [])) }
                model.node(opType, names, outputs, attributes: randomAttributes(&g))
                do {
                    let plan = try model.plan()
                    _ = try plan.run(feeds, limits: RunLimits(deadline: .now() + .seconds(5), maxBytes: 64 << 20))
                    outcomes.ran += 1
                } catch is EngineError {
                    outcomes.rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(outcomes.ran, 0)
        print("operator fuzz (\(compatible ? "compatible" : "random") inputs): \(outcomes.ran) ran, \(outcomes.rejected) rejected with an error")
    }
}
