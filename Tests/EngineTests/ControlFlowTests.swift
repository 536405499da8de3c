import Foundation
import ONNXProto
import XCTest
@testable import Engine

/// If, Loop and Scan beyond the node tests: run limits inside a loop, errors that name the
/// subgraph's node, and outer values read from a subgraph.
final class ControlFlowTests: XCTestCase {
    private static func graphAttribute(_ name: String, _ builder: ModelBuilder) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .graph
        attribute.g = builder.proto.graph
        return attribute
    }

    /// A Loop with no trip count whose condition stays true: body adds the outer `step` to x.
    private func endlessLoop() throws -> Plan {
        var body = ModelBuilder()
        body.input("i", [], type: 7)
        body.input("cond_in", [], type: 9)
        body.input("acc_in", [.fixed(2)])
        body.node("Identity", ["cond_in"], ["cond_out"])
        body.node("Add", ["acc_in", "step"], ["acc_out"], name: "body_add")
        body.output("cond_out", [], type: 9)
        body.output("acc_out", [.fixed(2)])
        var model = ModelBuilder()
        model.input("x", [.fixed(2)])
        model.input("step", [.symbolic("n")])
        model.node("Loop", ["", "", "x"], ["y"], name: "endless", attributes: [Self.graphAttribute("body", body)])
        model.output("y", [.fixed(2)])
        return try model.plan()
    }

    func testAnEndlessLoopStopsAtTheDeadline() throws {
        let plan = try endlessLoop()
        let feeds = ["x": Tensor(shape: [2], floats: [0, 0]), "step": Tensor(shape: [2], floats: [1, 1])]
        XCTAssertThrowsError(try plan.run(feeds, limits: RunLimits(deadline: .now() + .milliseconds(100)))) { error in
            guard case .deadlineExceeded? = error as? EngineError else { return XCTFail("\(error)") }
        }
    }

    func testAnErrorInsideTheBodyNamesTheBodysNode() throws {
        let plan = try endlessLoop()
        let feeds = ["x": Tensor(shape: [2], floats: [0, 0]), "step": Tensor(shape: [2], floats: [1, 1])]
        // A step of another length: the body's Add fails on the first iteration.
        XCTAssertThrowsError(try plan.run(["x": feeds["x"]!, "step": Tensor(shape: [3], floats: [1, 1, 1])])) { error in
            guard case .invalidInput(let node, _, _)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertEqual(node, "body_add")
        }
    }

    func testIfReadsOuterValuesAndFoldsOnAConstantCondition() throws {
        var thenBranch = ModelBuilder()
        thenBranch.node("Add", ["x", "w"], ["t"])
        thenBranch.output("t", [.fixed(2)])
        var elseBranch = ModelBuilder()
        elseBranch.node("Sub", ["x", "w"], ["e"])
        elseBranch.output("e", [.fixed(2)])
        var model = ModelBuilder()
        model.input("x", [.fixed(2)])
        model.input("c", [], type: 9)
        model.initializer("w", [2], floats: [10, 20])
        model.node("If", ["c"], ["y"], attributes: [Self.graphAttribute("then_branch", thenBranch), Self.graphAttribute("else_branch", elseBranch)])
        model.output("y", [.fixed(2)])
        let plan = try model.plan()
        let x = Tensor(shape: [2], floats: [1, 2])
        XCTAssertEqual(try plan.run(["x": x, "c": Tensor(shape: [], bools: [true])])["y"]?.floatArray(), [11, 22])
        XCTAssertEqual(try plan.run(["x": x, "c": Tensor(shape: [], bools: [false])])["y"]?.floatArray(), [-9, -18])
        XCTAssertThrowsError(try plan.run(["x": x, "c": Tensor(shape: [2], bools: [true, false])]))
    }

    /// Static inference through If: with the condition unknown, what both branches agree on; a Loop has no rule, so
    /// its outputs stay unknown and the observer is told.
    func testShapeInferenceThroughControlFlow() throws {
        var thenBranch = ModelBuilder()
        thenBranch.node("Add", ["x", "w"], ["t"])
        thenBranch.output("t", [.symbolic("a"), .symbolic("b")])
        var elseBranch = ModelBuilder()
        elseBranch.initializer("axes", [1], int64s: [1])
        elseBranch.node("ReduceSum", ["x", "axes"], ["e"])
        elseBranch.output("e", [.symbolic("a"), .symbolic("b")])
        var model = ModelBuilder()
        model.input("x", [.symbolic("N"), .fixed(2)])
        model.input("c", [], type: 9)
        model.initializer("w", [2], floats: [10, 20])
        model.node("If", ["c"], ["y"], attributes: [Self.graphAttribute("then_branch", thenBranch), Self.graphAttribute("else_branch", elseBranch)])
        model.output("y", [.symbolic("a"), .symbolic("b")])
        let facts = try model.plan().inferFacts()
        XCTAssertEqual(facts["y"]?.shape, [.symbolic("N"), .unknown])   // [N, 2] or [N, 1]
        XCTAssertEqual(facts["y"]?.dataType, .float)

        var ruleless: [String] = []
        let loopFacts = try endlessLoop().inferFacts { step in if !step.hasRule { ruleless.append(step.opType) } }
        XCTAssertEqual(ruleless, ["Loop"])
        XCTAssertNil(loopFacts["y"]?.shape)
    }

    func testZeroIterationsReturnTheInitialValues() throws {
        var body = ModelBuilder()
        body.input("i", [], type: 7)
        body.input("cond_in", [], type: 9)
        body.input("acc_in", [.fixed(2)])
        body.node("Identity", ["cond_in"], ["cond_out"])
        body.node("Neg", ["acc_in"], ["acc_out"])
        body.output("cond_out", [], type: 9)
        body.output("acc_out", [.fixed(2)])
        var model = ModelBuilder()
        model.input("x", [.fixed(2)])
        model.input("m", [], type: 7)
        model.node("Loop", ["m", "", "x"], ["y"], attributes: [Self.graphAttribute("body", body)])
        model.output("y", [.fixed(2)])
        let plan = try model.plan()
        let x = Tensor(shape: [2], floats: [1, 2])
        XCTAssertEqual(try plan.run(["x": x, "m": Tensor(shape: [], int64s: [0])])["y"]?.floatArray(), [1, 2])
        XCTAssertEqual(try plan.run(["x": x, "m": Tensor(shape: [], int64s: [3])])["y"]?.floatArray(), [-1, -2])
        XCTAssertEqual(try plan.run(["x": x, "m": Tensor(shape: [], int64s: [-5])])["y"]?.floatArray(), [1, 2])
    }
    func testInspectCountsSubgraphNodesAndTheirUnsupportedOps() throws {
        var thenBranch = ModelBuilder()
        thenBranch.node("Frobnicate", ["x"], ["t"])
        thenBranch.output("t", [.fixed(2)])
        var elseBranch = ModelBuilder()
        elseBranch.node("Neg", ["x"], ["e"])
        elseBranch.output("e", [.fixed(2)])
        var model = ModelBuilder()
        model.input("x", [.fixed(2)])
        model.input("c", [], type: 9)
        model.node("If", ["c"], ["y"], attributes: [Self.graphAttribute("then_branch", thenBranch), Self.graphAttribute("else_branch", elseBranch)])
        model.output("y", [.fixed(2)])
        let summary = try ModelSummary(modelData: try model.data())
        XCTAssertEqual(summary.operatorCounts, ["If": 1, "Frobnicate": 1, "Neg": 1])
        XCTAssertEqual(summary.unsupportedOperators, ["Frobnicate"])
        XCTAssertThrowsError(try model.plan()) { error in
            guard case .unsupportedOperator(let opType, _, _, _)? = error as? EngineError else { return XCTFail("\(error)") }
            XCTAssertEqual(opType, "Frobnicate")
        }
    }
}
