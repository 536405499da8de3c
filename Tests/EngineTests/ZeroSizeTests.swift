import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// Empty tensors (batch 0, channels 0, length 0) flow through every op: outputs with a zero
/// dimension, no trap, no loop over the dimensions an empty tensor still claims.
final class ZeroSizeTests: XCTestCase {
    // MARK: Shipped models

    /// Every shipped model runs a batch of 0: symbolic dims named like a batch are 0, the others 3.
    func testEveryShippedModelRunsAnEmptyBatch() throws {
        let folder = ShippedModelTests.modelsFolder
        var checked = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
            let version = folder.appendingPathComponent(name).appendingPathComponent("1")
            for file in (try? FileManager.default.contentsOfDirectory(atPath: version.path))?.sorted() ?? [] where file.hasSuffix(".onnx") {
                let plan = try Plan(contentsOf: version.appendingPathComponent(file))
                var feeds: [String: Tensor] = [:]
                for input in plan.inputs {
                    let shape = (input.shape ?? []).map { dim -> Int in
                        if let fixed = dim.fixedValue { return fixed }
                        return dim.description.lowercased().contains("batch") ? 0 : 3
                    }
                    feeds[input.name] = Tensor.zeros(input.dataType ?? .float, shape: shape)
                }
                let outputs = try plan.run(feeds)
                for output in plan.outputs {
                    let value = try XCTUnwrap(outputs[output.name], "\(name)/\(file) \(output.name)")
                    XCTAssertEqual(value.count, 0, "\(name)/\(file) \(output.name) \(value.shape)")
                    if output.shape?.first?.description.lowercased().contains("batch") ?? false {
                        XCTAssertEqual(value.shape.first, 0, "\(name)/\(file) \(output.name) \(value.shape)")
                    }
                }
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 4)
    }

    func testGANAndDecoderRunALatentBatchOf0() throws {
        for (model, file, shape) in [("mnist-gan", "model.onnx", [0, 64]), ("mnist-autoencoder", "decoder.onnx", [0, 16]),
                                     ("mnist-autoencoder", "model.onnx", [0, 1, 28, 28])] {
            let plan = try Plan(contentsOf: ShippedModelTests.modelsFolder.appendingPathComponent("\(model)/1/\(file)"))
            let outputs = try plan.run([plan.inputs[0].name: Tensor.zeros(.float, shape: shape)])
            for (name, value) in outputs { XCTAssertEqual(value.shape.first, 0, "\(model) \(name) \(value.shape)") }
        }
    }

    func testBatchingEmptyRequestsWhoseRowsOverflowThrows() throws {
        let huge = Tensor.zeros(.float, shape: [1 << 62, 0])
        XCTAssertThrowsError(try Tensor.concatenate([huge, huge])) { error in
            guard case .invalidInput? = error as? EngineError else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try Tensor.concatenate([Tensor.zeros(.float, shape: [0, 3]), Tensor.zeros(.float, shape: [2, 3])]).shape, [2, 3])
    }

    // MARK: Ops

    /// Runs one node whose inputs are given (nil: omitted); every dimension is symbolic.
    private func run(_ opType: String, _ inputs: [Tensor?], outputs: Int = 1, opset: Int = 17,
                     attributes: [Onnx_AttributeProto] = []) throws -> [Tensor] {
        var model = ModelBuilder()
        model.opset = opset
        var feeds: [String: Tensor] = [:]
        var names: [String] = []
        for (index, input) in inputs.enumerated() {
            guard let input else { names.append(""); continue }
            let name = "in\(index)"
            model.input(name, input.shape.indices.map { .symbolic("d\(index)_\($0)") }, type: input.dataType.rawValue)
            feeds[name] = input
            names.append(name)
        }
        let outputNames = (0..<outputs).map { "out\($0)" }
        for name in outputNames { model.outputs.append(ModelBuilder.valueInfo(name, 1, [])) }
        model.node(opType, names, outputNames, attributes: attributes)
        let result = try model.plan().run(feeds)
        return outputNames.compactMap { result[$0] }
    }

    private func floats(_ shape: [Int]) -> Tensor { Tensor.zeros(.float, shape: shape) }
    private func ints(_ values: [Int64]) -> Tensor { Tensor(shape: [values.count], int64s: values) }
    private func shapes(_ tensors: [Tensor]) -> [[Int]] { tensors.map(\.shape) }

    func testConvolutionsAndPoolsWithBatchOrChannels0() throws {
        let kernel = ModelBuilder.ints("kernel_shape", [3, 3])
        XCTAssertEqual(shapes(try run("Conv", [floats([0, 2, 5, 5]), floats([4, 2, 3, 3]), floats([4])])), [[0, 4, 3, 3]])
        XCTAssertEqual(shapes(try run("Conv", [floats([0, 4, 5, 5]), floats([4, 1, 3, 3])], attributes: [ModelBuilder.int("group", 4)])),
                       [[0, 4, 3, 3]])
        XCTAssertEqual(shapes(try run("Conv", [floats([2, 2, 5, 5]), floats([0, 2, 3, 3])])), [[2, 0, 3, 3]])
        XCTAssertEqual(shapes(try run("ConvTranspose", [floats([0, 2, 4, 4]), floats([2, 3, 3, 3]), floats([3])])), [[0, 3, 6, 6]])
        XCTAssertEqual(shapes(try run("ConvTranspose", [floats([0, 2, 7]), floats([2, 3, 3])])), [[0, 3, 9]])
        let zeroIn = try run("ConvTranspose", [floats([2, 0, 4, 4]), floats([0, 3, 3, 3]), Tensor(shape: [3], floats: [1, 2, 3])])
        XCTAssertEqual(shapes(zeroIn), [[2, 3, 6, 6]])
        XCTAssertEqual(zeroIn[0].floatArray().prefix(1), [1])   // no input channels: the bias alone
        XCTAssertEqual(shapes(try run("MaxPool", [floats([0, 3, 8, 8])], attributes: [kernel])), [[0, 3, 6, 6]])
        XCTAssertEqual(shapes(try run("MaxPool", [floats([0, 3, 8, 8])], outputs: 2, attributes: [kernel])), [[0, 3, 6, 6], [0, 3, 6, 6]])
        XCTAssertEqual(shapes(try run("AveragePool", [floats([2, 0, 8])], attributes: [ModelBuilder.ints("kernel_shape", [3])])),
                       [[2, 0, 6]])
        XCTAssertEqual(shapes(try run("GlobalAveragePool", [floats([0, 3, 4, 4])])), [[0, 3, 1, 1]])
        // A huge image in an empty batch: the pool's per-pixel tables must not be sized by it.
        XCTAssertEqual(shapes(try run("MaxPool", [floats([0, 1, 1 << 24, 1 << 24])], attributes: [kernel])), [[0, 1, (1 << 24) - 2, (1 << 24) - 2]])
    }

    func testNormalisationAndSoftmaxOfEmptyTensors() throws {
        let channel = { (n: Int) in Tensor(shape: [n], floats: Array(repeating: 1, count: n)) }
        XCTAssertEqual(shapes(try run("BatchNormalization", [floats([0, 3, 4]), channel(3), channel(3), channel(3), channel(3)])), [[0, 3, 4]])
        XCTAssertEqual(shapes(try run("InstanceNormalization", [floats([0, 3, 4]), channel(3), channel(3)])), [[0, 3, 4]])
        XCTAssertEqual(shapes(try run("LayerNormalization", [floats([0, 4]), channel(4), channel(4)])), [[0, 4]])
        XCTAssertEqual(shapes(try run("Softmax", [floats([0, 5])])), [[0, 5]])
        XCTAssertEqual(shapes(try run("Softmax", [floats([1 << 30, 0, 1 << 28])], attributes: [ModelBuilder.int("axis", 1)])),
                       [[1 << 30, 0, 1 << 28]])
        XCTAssertEqual(shapes(try run("LogSoftmax", [floats([3, 0])])), [[3, 0]])
    }

    func testMatrixProductsWithAZeroDimension() throws {
        XCTAssertEqual(shapes(try run("MatMul", [floats([0, 4]), floats([4, 3])])), [[0, 3]])
        XCTAssertEqual(shapes(try run("MatMul", [floats([1 << 24, 0, 0]), floats([1 << 24, 0, 0])])), [[1 << 24, 0, 0]])
        let empty = try run("MatMul", [floats([2, 0]), floats([0, 3])])
        XCTAssertEqual(empty.first?.floatArray(), Array(repeating: 0, count: 6))   // a sum of nothing
        XCTAssertEqual(shapes(try run("Gemm", [floats([0, 4]), floats([4, 3]), floats([3])])), [[0, 3]])
        let gemm = try run("Gemm", [floats([2, 0]), floats([0, 3]), Tensor(shape: [3], floats: [1, 2, 3])])
        XCTAssertEqual(gemm.first?.floatArray(), [1, 2, 3, 1, 2, 3])
    }

    func testRecurrentOpsWithBatchOrTime0() throws {
        let hidden = ModelBuilder.int("hidden_size", 2)
        for (op, gates) in [("LSTM", 4), ("GRU", 3), ("RNN", 1)] {
            let w = floats([1, gates * 2, 3]), r = floats([1, gates * 2, 2])
            let outputs = op == "LSTM" ? 3 : 2
            XCTAssertEqual(shapes(try run(op, [floats([5, 0, 3]), w, r], outputs: outputs, attributes: [hidden])).first, [5, 1, 0, 2], op)
            XCTAssertEqual(shapes(try run(op, [floats([0, 2, 3]), w, r], outputs: outputs, attributes: [hidden])).first, [0, 1, 2, 2], op)
            XCTAssertEqual(shapes(try run(op, [floats([Int(Int32.max), 0, 3]), w, r], outputs: outputs, attributes: [hidden])).first,
                           [Int(Int32.max), 1, 0, 2], op)
        }
    }

    func testDataMovementOfEmptyTensors() throws {
        XCTAssertEqual(shapes(try run("Transpose", [floats([0, 3, 1 << 30])])), [[1 << 30, 3, 0]])
        XCTAssertEqual(shapes(try run("Concat", [floats([1 << 31, 0]), floats([1 << 31, 0])], attributes: [ModelBuilder.int("axis", 0)])),
                       [[1 << 32, 0]])
        XCTAssertEqual(shapes(try run("Concat", [floats([2, 0]), floats([2, 3])], attributes: [ModelBuilder.int("axis", 1)])), [[2, 3]])
        XCTAssertEqual(shapes(try run("Split", [floats([1 << 30, 0, 4])], outputs: 2, attributes: [ModelBuilder.int("axis", 2)])),
                       [[1 << 30, 0, 2], [1 << 30, 0, 2]])
        XCTAssertEqual(shapes(try run("Slice", [floats([0, 5]), ints([1]), ints([3]), ints([1])])), [[0, 2]])
        XCTAssertEqual(shapes(try run("Gather", [floats([5, 3]), Tensor(shape: [0], int64s: [])])), [[0, 3]])
        XCTAssertEqual(shapes(try run("Gather", [floats([1 << 30, 5, 0]), ints([1, 2])], attributes: [ModelBuilder.int("axis", 1)])),
                       [[1 << 30, 2, 0]])
        XCTAssertEqual(shapes(try run("Tile", [floats([0, 2]), ints([3, 2])])), [[0, 4]])
        XCTAssertEqual(shapes(try run("Pad", [floats([0, 2]), ints([0, 1, 0, 1])])), [[0, 4]])
        XCTAssertThrowsError(try run("Pad", [floats([0, 2]), ints([1, 0, 0, 0])], attributes: [padMode("reflect")]))
        XCTAssertEqual(shapes(try run("Expand", [floats([1, 3]), ints([0, 3])])), [[0, 3]])
        XCTAssertEqual(shapes(try run("Reshape", [floats([0, 4]), ints([-1, 2])])), [[0, 2]])
        XCTAssertEqual(shapes(try run("Flatten", [floats([0, 4, 5])])), [[0, 20]])
        XCTAssertEqual(shapes(try run("ConstantOfShape", [ints([0, 1 << 24])])), [[0, 1 << 24]])
        XCTAssertEqual(shapes(try run("Where", [Tensor(shape: [0, 1], bools: []), floats([1, 3]), floats([0, 3])])), [[0, 3]])
    }

    func testElementwiseAndReductionsOfEmptyTensors() throws {
        XCTAssertEqual(shapes(try run("Add", [floats([0, 3]), floats([1, 3])])), [[0, 3]])
        XCTAssertEqual(shapes(try run("Div", [Tensor(shape: [0], int64s: []), ints([0])])), [[0]])   // no element divides by the 0
        XCTAssertEqual(shapes(try run("Relu", [floats([0, 1 << 30])])), [[0, 1 << 30]])
        XCTAssertEqual(shapes(try run("Cast", [floats([0, 2])], attributes: [ModelBuilder.int("to", 7)])), [[0, 2]])
        let sum = try run("ReduceSum", [floats([3, 0]), ints([1])])
        XCTAssertEqual(shapes(sum), [[3, 1]])
        XCTAssertEqual(sum.first?.floatArray(), [0, 0, 0])
        XCTAssertEqual(shapes(try run("ReduceMax", [floats([0, 3])], attributes: [ModelBuilder.ints("axes", [1])])), [[0, 1]])
        XCTAssertEqual(shapes(try run("ArgMax", [floats([0, 3])], attributes: [ModelBuilder.int("axis", 1)])), [[0, 1]])
        XCTAssertEqual(shapes(try run("ArgMax", [floats([1 << 30, 3, 0])], attributes: [ModelBuilder.int("axis", 1)])), [[1 << 30, 1, 0]])
        XCTAssertEqual(shapes(try run("Resize", [floats([0, 1, 4, 4]), nil, Tensor(shape: [4], floats: [1, 1, 2, 2])])), [[0, 1, 8, 8]])
        XCTAssertThrowsError(try run("Resize", [floats([1, 1, 0, 4]), nil, nil, ints([1, 1, 4, 4])]))
    }

    private func padMode(_ mode: String) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = "mode"
        attribute.type = .string
        attribute.s = Data(mode.utf8)
        return attribute
    }
    func testQuantizedOpsAndNdConvolutionsWithEmptyOrHugeDimensions() throws {
        func bytes(_ type: DataType, _ shape: [Int], _ value: UInt8 = 0) -> Tensor {
            let values = [UInt8](repeating: value, count: Tensor.elementCount(shape))
            return values.withUnsafeBytes { Tensor(dataType: type, shape: shape, bytes: $0) }
        }
        let scale = Tensor(scalar: 0.5), zero = bytes(.uint8, [], 3)
        XCTAssertEqual(shapes(try run("QuantizeLinear", [floats([0, 1 << 24, 1 << 24]), scale, zero])), [[0, 1 << 24, 1 << 24]])
        XCTAssertEqual(shapes(try run("DequantizeLinear", [bytes(.uint8, [1 << 24, 0, 1 << 24]), scale, zero])), [[1 << 24, 0, 1 << 24]])
        // Blocked: a block size near Int.max must not overflow the block count.
        XCTAssertEqual(shapes(try run("DequantizeLinear", [bytes(.int8, [2, 3]), Tensor(shape: [2, 1], floats: [1, 2])], opset: 21,
                                      attributes: [ModelBuilder.int("axis", 1), ModelBuilder.int("block_size", Int(Int64.max))])), [[2, 3]])
        XCTAssertEqual(shapes(try run("DynamicQuantizeLinear", [floats([0, 3])], outputs: 3)), [[0, 3], [], []])
        let extremes = try run("DynamicQuantizeLinear", [Tensor(shape: [4], floats: [.nan, .infinity, -.infinity, 1])], outputs: 3)
        XCTAssertEqual(shapes(extremes), [[4], [], []])
        XCTAssertEqual(shapes(try run("MatMulInteger", [bytes(.uint8, [0, 1 << 24]), bytes(.int8, [1 << 24, 0])])), [[0, 0]])
        XCTAssertEqual(try run("MatMulInteger", [bytes(.uint8, [2, 0]), bytes(.uint8, [0, 3])])[0].int64Array(), [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(shapes(try run("ConvInteger", [bytes(.uint8, [0, 2, 1 << 24, 1 << 24]), bytes(.uint8, [3, 2, 3, 3])])),
                       [[0, 3, (1 << 24) - 2, (1 << 24) - 2]])
        // No input channels: a zero product whatever the kernel's size.
        let hugeKernel = [1 << 16, 1 << 16, 1 << 16], pads = ModelBuilder.ints("pads", [32766, 32766, 32766, 32767, 32767, 32767])
        let noChannels = try run("ConvInteger", [bytes(.uint8, [1, 0, 4, 4, 4]), bytes(.uint8, [2, 0] + hugeKernel)], attributes: [pads])
        XCTAssertEqual(shapes(noChannels), [[1, 2, 2, 2, 2]])
        XCTAssertEqual(noChannels.first?.int64Array().allSatisfy { $0 == 0 }, true)
        let qInputs: [Tensor?] = [bytes(.uint8, [1, 0, 3, 3]), scale, zero, bytes(.int8, [2, 0, 1, 1]), scale, bytes(.int8, []),
                                  Tensor(scalar: 1), zero, Tensor(shape: [2], int32s: [4, -8])]
        XCTAssertEqual(try run("QLinearConv", qInputs)[0].int64Array(), [4, 4, 4, 4, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1, 1])   // (bias · 0.25) + 3
        XCTAssertEqual(shapes(try run("Conv", [floats([0, 2, 4, 4, 4]), floats([3, 2, 3, 3, 3])])), [[0, 3, 2, 2, 2]])
        let biasOnly = try run("Conv", [floats([1, 0, 4, 4, 4]), floats([2, 0] + hugeKernel), Tensor(shape: [2], floats: [1, 2])],
                               attributes: [pads])
        XCTAssertEqual(shapes(biasOnly), [[1, 2, 2, 2, 2]])
        XCTAssertEqual(biasOnly.first.map { Set($0.floatArray()) }, [1, 2])
        XCTAssertEqual(shapes(try run("ConvTranspose", [floats([0, 2, 3, 3, 3]), floats([2, 3, 2, 2, 2])])), [[0, 3, 4, 4, 4]])
        // Antialiased Resize to nothing: no filter is sized by a scale of 0 or 1e-30.
        var cubic = Onnx_AttributeProto()
        (cubic.name, cubic.type, cubic.s) = ("mode", .string, Data("cubic".utf8))
        let antialias = [ModelBuilder.int("antialias", 1), cubic]
        XCTAssertEqual(shapes(try run("Resize", [floats([1, 1, 4, 4]), nil, nil, ints([1, 1, 0, 2])], opset: 18, attributes: antialias)),
                       [[1, 1, 0, 2]])
        XCTAssertEqual(shapes(try run("Resize", [floats([1, 1, 4, 4]), nil, Tensor(shape: [4], floats: [1, 1, 1e-30, 1])], opset: 18,
                                      attributes: antialias)), [[1, 1, 0, 4]])
    }
}
