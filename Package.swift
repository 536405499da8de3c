// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "deepserve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "deepserve", targets: ["deepserve"]),
        .library(name: "Engine", targets: ["Engine"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Hot loops that need AVX2/FMA intrinsics, chosen at run time (see Sources/CKernels/README.md).
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        // Swift types generated from proto/onnx.proto by scripts/generate-onnx-proto.sh (committed).
        .target(
            name: "ONNXProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(
            name: "Engine",
            dependencies: [
                "ONNXProto", "CKernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "deepserve",
            dependencies: [
                "Engine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Engine", "ONNXProto", "CKernels"]
        ),
        // Runs the built `deepserve` executable as a user would.
        .testTarget(
            name: "CLITests",
            dependencies: ["deepserve"]
        ),
    ]
)
