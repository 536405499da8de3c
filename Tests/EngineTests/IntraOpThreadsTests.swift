import CKernels
import Foundation
import XCTest
@testable import Engine

/// Intra-op parallelism: a run split over several threads computes every element exactly as one thread does (same
/// K blocks, same kernels, only different hands), and the pool behind it runs each index once, regions back to back.
final class IntraOpThreadsTests: XCTestCase {
    private var pool: OpaquePointer?

    override func setUp() { pool = ds_pool_create(1) }

    override func tearDown() {
        ds_pool_attach(nil, 1)
        ds_pool_destroy(pool)
        ds_force_portable(0)
    }

    private func random(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) - (1 << 23)) / Float(1 << 23)
        }
    }

    /// `body` once on one thread and once on two; both answers.
    private func onOneAndTwoThreads<T>(_ body: () throws -> T) rethrows -> (T, T) {
        ds_pool_attach(nil, 1)
        let one = try body()
        ds_pool_attach(pool, 2)
        defer { ds_pool_attach(nil, 1) }
        XCTAssertEqual(ds_parallel_threads(), 2)
        return (one, try body())
    }

    func testEveryIndexRunsOnceAcrossManyRegions() {
        final class Counts: @unchecked Sendable {
            var hits = [Int32](repeating: 0, count: 64)
        }
        let counts = Counts()
        ds_pool_attach(pool, 2)
        defer { ds_pool_attach(nil, 1) }
        // Thousands of regions in a row: a lost wake-up or a helper reading a stale region would hang or miscount.
        for round in 0..<5_000 {
            let count = 1 + round % 64
            counts.hits.withUnsafeMutableBufferPointer { hits in
                ds_parallel_for(count, { context, index in
                    let hits = context!.assumingMemoryBound(to: Int32.self)
                    // Each index is claimed by one thread only, so a plain increment is enough.
                    hits[index] += 1
                }, hits.baseAddress)
            }
        }
        for index in 0..<64 {
            // Index i runs in every round whose count exceeds it.
            let expected = (0..<5_000).filter { 1 + $0 % 64 > index }.count
            XCTAssertEqual(counts.hits[index], Int32(expected), "index \(index)")
        }
    }

    func testRegionsNestedInARegionRunOnTheirThread() {
        ds_pool_attach(pool, 2)
        defer { ds_pool_attach(nil, 1) }
        var inner = [Int32](repeating: 0, count: 2)
        inner.withUnsafeMutableBufferPointer { inner in
            ds_parallel_for(2, { context, index in
                // A kernel called inside a region sees one thread and runs its own loop serially.
                let inner = context!.assumingMemoryBound(to: Int32.self)
                inner[index] = ds_parallel_threads()
            }, inner.baseAddress)
        }
        XCTAssertEqual(inner, [1, 1])
    }

    func testPoolWithoutHelpersIsRefusedAndRunsSerially() {
        XCTAssertNil(ds_pool_create(0))
        ds_pool_attach(nil, 4)
        XCTAssertEqual(ds_parallel_threads(), 1)
    }

    /// Products split by columns, by rows, pre-packed on either side, with beta, bias and an activation, on the
    /// AVX2 and portable kernels: bit-identical on one and two threads.
    func testSplitProductsAreBitIdentical() {
        let shapes = [(64, 3136, 576), (512, 49, 700), (7, 1000, 300), (1, 4096, 300), (130, 33, 600), (300, 300, 17)]
        for portable in [false, true] {
            ds_force_portable(portable ? 1 : 0)
            for (m, n, k) in shapes {
                let a = random(m * k, seed: 1), b = random(k * n, seed: 2), start = random(m * n, seed: 3)
                let rowBias = random(m, seed: 4), colBias = random(n, seed: 5)
                let act = ds_activation(kind: DS_ACTIVATION_LEAKY_RELU, alpha: 0.1, beta: 0)
                let what = "\(m)×\(n)×\(k), portable \(portable)"
                let (plain1, plain2) = onOneAndTwoThreads { () -> [Float] in
                    var c = start
                    ds_sgemm(0, 0, m, n, k, 0.5, a, k, b, n, 1, &c, n, rowBias, colBias, act)
                    return c
                }
                XCTAssertEqual(plain1, plain2, "plain \(what)")
                // The packed kernels load with aligned instructions: 64-byte aligned buffers.
                let paAligned = UnsafeMutableRawPointer.allocate(byteCount: 4 * ds_sgemm_packed_a_size(m, k), alignment: 64)
                    .bindMemory(to: Float.self, capacity: ds_sgemm_packed_a_size(m, k))
                let pbAligned = UnsafeMutableRawPointer.allocate(byteCount: 4 * ds_sgemm_packed_b_size(k, n), alignment: 64)
                    .bindMemory(to: Float.self, capacity: ds_sgemm_packed_b_size(k, n))
                defer { paAligned.deallocate(); pbAligned.deallocate() }
                ds_sgemm_pack_a(0, m, k, 1, a, k, paAligned)
                ds_sgemm_pack_b(0, k, n, b, n, pbAligned)
                let (packedA1, packedA2) = onOneAndTwoThreads { () -> [Float] in
                    var c = [Float](repeating: .nan, count: m * n)
                    ds_sgemm_prepacked(m, n, k, paAligned, 0, b, n, 0, &c, n, rowBias, nil, act)
                    return c
                }
                XCTAssertEqual(packedA1, packedA2, "pre-packed A \(what)")
                let (packedB1, packedB2) = onOneAndTwoThreads { () -> [Float] in
                    var c = [Float](repeating: .nan, count: m * n)
                    ds_sgemm_prepacked_b(0, m, n, k, 1, a, k, pbAligned, 0, &c, n, nil, colBias, act)
                    return c
                }
                XCTAssertEqual(packedB1, packedB2, "pre-packed B \(what)")
            }
        }
    }

    /// Attention-sized batched products go one per thread; each equals its own ds_sgemm.
    func testBatchedProductsMatchOneByOne() {
        let (count, m, n, k) = (12, 32, 32, 64)
        let a = random(count * m * k, seed: 7), b = random(k * n, seed: 8)
        let aOffsets = (0..<count).map { $0 * m * k }, bOffsets = [Int](repeating: 0, count: count)   // B broadcast
        var expected = [Float](repeating: 0, count: count * m * n)
        for i in 0..<count {
            expected.withUnsafeMutableBufferPointer { c in
                ds_sgemm(0, 0, m, n, k, 1, Array(a[(i * m * k)...]), k, b, n, 0, c.baseAddress! + i * m * n, n, nil, nil, Activation.none)
            }
        }
        let (one, two) = onOneAndTwoThreads { () -> [Float] in
            var c = [Float](repeating: .nan, count: count * m * n)
            ds_sgemm_batched(count, m, n, k, a, aOffsets, b, bOffsets, &c, nil, Activation.none)
            return c
        }
        XCTAssertEqual(one, expected)
        XCTAssertEqual(two, expected)
    }

    /// Whole networks: the digit CNN (convolutions, GEMM) and the GAN's generator (ConvTranspose) give the same bits
    /// at RunLimits(threads: 2) as on one thread; so does a depthwise convolution split over planes.
    func testNetworksAreBitIdenticalOnTwoThreads() throws {
        for (model, input, shape) in [("mnist-cnn", "image", [8, 1, 28, 28]), ("mnist-gan", "latent", [4, 64])] {
            let plan = try Plan(contentsOf: ShippedModelTests.modelsFolder.appendingPathComponent("\(model)/1/model.onnx"))
            let name = plan.inputs.first?.name ?? input
            let x = Tensor(shape: shape, floats: random(shape.reduce(1, *), seed: 11))
            let workspace = Workspace()
            let one = try plan.run([name: x], workspace: workspace, limits: RunLimits(threads: 1))
            let two = try plan.run([name: x], workspace: workspace, limits: RunLimits(threads: 2))
            XCTAssertEqual(Set(one.keys), Set(two.keys))
            for (output, value) in one {
                XCTAssertEqual(try value.floatArray(), try XCTUnwrap(two[output]).floatArray(), "\(model) \(output)")
            }
        }
        // Depthwise: 3×3 stride 2 over 24 planes of 20×20, bias and ReLU6.
        let (planes, height, width, outH, outW) = (24, 20, 20, 10, 10)
        let x = random(planes * height * width, seed: 12), w = random(planes * 9, seed: 13), bias = random(planes, seed: 14)
        let act = ds_activation(kind: DS_ACTIVATION_CLIP, alpha: 0, beta: 6)
        let (one, two) = onOneAndTwoThreads { () -> [Float] in
            var scratch = [Float](repeating: .nan, count: ds_depthwise_scratch_size(3, 3, 2, 2, 1, 1, outH, outW))
            var y = [Float](repeating: .nan, count: planes * outH * outW)
            XCTAssertEqual(ds_depthwise_conv2d(x, planes, planes, 1, height, width, w, 3, 3, bias, 2, 2, 1, 1, 1, 1, outH, outW,
                                               &scratch, act, &y), 0)
            return y
        }
        XCTAssertEqual(one, two)
        XCTAssertFalse(one.contains { $0.isNaN })
    }
}
