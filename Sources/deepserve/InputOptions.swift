import ArgumentParser
import Engine
import Foundation
import Serving

/// How `bench`, `inspect` and `run` get a model's inputs, so a benchmark runs the shapes a reference runs:
/// real tensors from .npy files (`--input NAME=FILE.npy`), a whole shape (`--shape NAME=1x3x224x224`), or a size for
/// each symbolic dimension by its name (`--dim batch=8 --dim sequence=128`); any dimension still unknown takes the
/// command's fallback (`--batch`, `--dynamic-size`).
struct InputOptions: ParsableArguments {
    @Option(name: .customLong("input"), help: ArgumentHelp("An input as NAME=FILE.npy; repeatable.", valueName: "name=file"))
    var files: [String] = []

    @Option(name: .customLong("shape"), help: ArgumentHelp("An input's whole shape, as NAME=1x3x224x224; repeatable.", valueName: "name=shape"))
    var shapes: [String] = []

    @Option(name: .customLong("dim"), help: ArgumentHelp("A symbolic dimension's size, as NAME=VALUE (e.g. sequence=128); repeatable.", valueName: "name=value"))
    var dims: [String] = []

    /// The largest input `--shape`/`--dim` may describe, in elements.
    static let maxElements = 1 << 31

    /// Inputs for `plan`: from files where given, else `fill(info, shape)` for the resolved shape.
    func tensors(for plan: Plan, fallback: Int, fill: (ValueInfo, [Int]) -> Tensor) throws -> [String: Tensor] {
        let fileInputs = try Self.pairs(files, flag: "--input").mapValues { path in
            do { return try NumpyFile.read(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw ValidationError("--input \(path): \(error)")
            }
        }
        let shapeInputs = try Self.pairs(shapes, flag: "--shape").mapValues { text in
            try text.split(separator: "x", omittingEmptySubsequences: false).map { part in
                guard let value = Int(part), value >= 0 else { throw ValidationError("--shape takes sizes like 1x3x224x224, got '\(text)'") }
                return value
            }
        }
        let dimSizes = try Self.pairs(dims, flag: "--dim").mapValues { text in
            guard let value = Int(text), value >= 0 else { throw ValidationError("--dim takes NAME=SIZE, got size '\(text)'") }
            return value
        }
        let known = Set(plan.inputs.map(\.name))
        for name in Set(fileInputs.keys).union(shapeInputs.keys) where !known.contains(name) {
            throw ValidationError("the model has no input '\(name)'; its inputs are \(plan.inputs.map(\.name).joined(separator: ", "))")
        }
        var result: [String: Tensor] = [:]
        for info in plan.inputs {
            if let tensor = fileInputs[info.name] { result[info.name] = tensor; continue }
            let shape = shapeInputs[info.name] ?? (info.shape ?? []).map { dimension in
                switch dimension {
                case .fixed(let value): return value
                case .symbolic(let name): return dimSizes[name] ?? fallback
                case .unknown: return fallback
                }
            }
            var count = 1
            for size in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: size)
                guard !overflow, product <= Self.maxElements else {
                    throw ValidationError("input '\(info.name)' of shape \(shape) has more than \(Self.maxElements) elements")
                }
                count = product
            }
            result[info.name] = fill(info, shape)
        }
        return result
    }

    private static func pairs(_ arguments: [String], flag: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw ValidationError("\(flag) takes NAME=VALUE, got '\(argument)'")
            }
            result[String(argument[..<equals])] = String(argument[argument.index(after: equals)...])
        }
        return result
    }
}
