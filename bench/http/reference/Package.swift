// swift-tools-version:6.0
// The bench's reference: a minimal Hummingbird (SwiftNIO) server with the same trivial route as ours.
// A separate package so the main one never depends on SwiftNIO.
import PackageDescription

let package = Package(
    name: "reference",
    platforms: [.macOS(.v14)],
    dependencies: [.package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1")],
    targets: [
        .executableTarget(name: "Reference", dependencies: [.product(name: "Hummingbird", package: "hummingbird")])
    ]
)
