import Foundation
import ONNXProto
@testable import Engine

/// Locates (and if needed generates) the ONNX backend node tests.
///
/// The `onnx` wheel ships the test definitions but not their data; `scripts/generate-onnx-node-tests.py`
/// runs the definitions once and caches the result under `.build/onnx-node-tests` (or the folder in
/// `DEEPSERVE_ONNX_NODE_TESTS`).
enum ONNXNodeTestSuite {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Case {
        let name: String
        let directory: URL
        let opTypes: Set<String>
    }

    static func directory() throws -> URL {
        if let given = ProcessInfo.processInfo.environment["DEEPSERVE_ONNX_NODE_TESTS"] {
            return URL(fileURLWithPath: given)
        }
        let cache = packageRoot.appendingPathComponent(".build/onnx-node-tests")
        if !FileManager.default.fileExists(atPath: cache.appendingPathComponent("ONNX_VERSION").path) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", packageRoot.appendingPathComponent("scripts/generate-onnx-node-tests.py").path, cache.path]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw SuiteError("generating the ONNX node tests failed (is the `onnx` package installed? `pip install -r requirements-test.txt`)")
            }
        }
        return cache
    }

    static func cases() throws -> [Case] {
        let root = try directory()
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix("test_") }.sorted()
        return try names.map { name in
            let directory = root.appendingPathComponent(name)
            let model = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: directory.appendingPathComponent("model.onnx")))
            return Case(name: name, directory: directory, opTypes: opTypes(of: model.graph))
        }
    }

    /// The op types of a graph's nodes and of every subgraph's (If branches, Loop and Scan bodies).
    static func opTypes(of graph: Onnx_GraphProto) -> Set<String> {
        var types = Set(graph.node.map(\.opType))
        for node in graph.node {
            for attribute in node.attribute {
                for subgraph in (attribute.hasG ? [attribute.g] : []) + attribute.graphs { types.formUnion(opTypes(of: subgraph)) }
            }
        }
        return types
    }

    /// The data sets of a case: inputs in graph-input order, expected outputs in graph-output order.
    static func dataSets(_ testCase: Case) throws -> [(inputs: [Tensor], outputs: [Tensor])] {
        let sets = try FileManager.default.contentsOfDirectory(atPath: testCase.directory.path)
            .filter { $0.hasPrefix("test_data_set_") }.sorted()
        return try sets.map { set in
            let folder = testCase.directory.appendingPathComponent(set)
            func read(_ prefix: String) throws -> [Tensor] {
                var tensors: [Tensor] = []
                while true {
                    let file = folder.appendingPathComponent("\(prefix)_\(tensors.count).pb")
                    guard let data = FileManager.default.contents(atPath: file.path) else { return tensors }
                    tensors.append(try Tensor(proto: try Onnx_TensorProto(serializedBytes: data), modelDirectory: nil))
                }
            }
            return (try read("input"), try read("output"))
        }
    }

    struct SuiteError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
