import ArgumentParser
import Foundation
import Serving

/// `deepserve check-model DIR`: loads one model folder exactly as the server would — config checked against the
/// graph, every file resolved inside the folder, the plan compiled and run once — and says what the server will do
/// with it, or why it would refuse it. Exit 0 when it would serve, 1 when not.
struct CheckModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-model",
        abstract: "Check a model folder (config.json + VERSION/model.onnx) as the server would load it.")

    @Argument(help: "The model's folder, e.g. models/mnist-cnn.")
    var folder: String

    func run() throws {
        let url = URL(fileURLWithPath: folder).standardizedFileURL
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("\(folder) is not a folder")
        }
        let repository = ModelRepository(root: url.deletingLastPathComponent())
        do {
            let model = try repository.load(url.lastPathComponent)
            for line in model.servingSummary { print(line) }
            print("ok: the server would serve it (loaded in \(String(format: "%.0f", model.loadSeconds * 1000)) ms)")
        } catch {
            print("not servable: \(error)")
            throw ExitCode(1)
        }
    }
}
