import ArgumentParser

@main
struct DeepServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deepserve",
        abstract: "Serve ONNX networks over HTTP, and inspect, run and benchmark them on the CPU.",
        subcommands: [Serve.self, CheckModel.self, Inspect.self, Run.self, Bench.self, Healthcheck.self],
        defaultSubcommand: Serve.self
    )
}
