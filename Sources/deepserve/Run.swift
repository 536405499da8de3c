import ArgumentParser
import Engine
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an ONNX model on NumPy .npy inputs and write its outputs as .npy files.")

    @Argument(help: "Path to a .onnx file.")
    var model: String

    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=FILE.npy; repeat for each input.", valueName: "name=file"))
    var inputs: [String] = []

    @Option(help: "Folder to write each output to, as NAME.npy.")
    var outputDir: String?

    func run() throws {
        let plan = try Plan(contentsOf: URL(fileURLWithPath: model))
        var feeds: [String: Tensor] = [:]
        for argument in inputs {
            guard let equals = argument.firstIndex(of: "=") else {
                throw ValidationError("--input takes NAME=FILE.npy, got '\(argument)'")
            }
            let name = String(argument[..<equals]), path = String(argument[argument.index(after: equals)...])
            do {
                feeds[name] = try NumpyFile.read(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw ValidationError("input '\(name)' from \(path): \(error)")
            }
        }
        let start = Date()
        let outputs = try plan.run(feeds)
        let elapsed = Date().timeIntervalSince(start)
        if let outputDir {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        }
        for info in plan.outputs {
            guard let tensor = outputs[info.name] else { continue }
            let preview = tensor.floatArray().prefix(6).map { String(format: "%.5g", $0) }.joined(separator: ", ")
            print("\(info.name): \(tensor.dataType) \(tensor.shape) [\(preview)\(tensor.count > 6 ? ", …" : "")]")
            if let outputDir {
                let file = URL(fileURLWithPath: outputDir).appendingPathComponent(safeFileName(info.name) + ".npy")
                try NumpyFile.write(tensor, to: file)
            }
        }
        print(String(format: "ran in %.3f ms", elapsed * 1000))
    }

    /// Output names may hold '/' or ':' (exporters' scoped names); keep file names flat.
    private func safeFileName(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" })
    }
}
