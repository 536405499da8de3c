import ArgumentParser
import Engine
import Foundation

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe an ONNX model: inputs, outputs, ops, parameters, FLOPs.")

    @Argument(help: "Path to a .onnx file.")
    var model: String

    func run() throws {
        print("TODO")
    }
}

struct Run: ParsableCommand {
    @Argument var model: String
    func run() throws {}
}

struct Bench: ParsableCommand {
    @Argument var model: String
    func run() throws {}
}
