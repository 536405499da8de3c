// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "deepserve",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "deepserve", targets: ["deepserve"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "HTTPServer", targets: ["HTTPServer"]),
        .library(name: "Imaging", targets: ["Imaging"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Hot loops that need AVX2/FMA intrinsics, chosen at run time (see docs/ARCHITECTURE.md).
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
        // One-shot zlib compression, shared by gzip responses and the PNG encoder.
        .target(
            name: "CZlib",
            linkerSettings: [.linkedLibrary("z")]
        ),
        // Thin C wrappers over OpenSSL and zlib (their macros and structs don't import cleanly into Swift).
        .target(
            name: "CHTTPShims",
            dependencies: ["CZlib"],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto"), .linkedLibrary("z")]
        ),
        // HTTP/1.1 server on Glibc sockets and Dispatch: parser, connections, router, gzip, TLS. Knows nothing of models.
        .target(
            name: "HTTPServer",
            dependencies: ["CHTTPShims", .product(name: "Logging", package: "swift-log")]
        ),
        // Thin C wrappers over zlib (PNG's IDAT streams) and libjpeg-turbo (with its longjmp errors caught in C).
        .target(
            name: "CImaging",
            dependencies: ["CZlib"],
            linkerSettings: [.linkedLibrary("z"), .linkedLibrary("jpeg")]
        ),
        // Decoding (PNG, JPEG, PGM/PPM), PNG encoding, resizing and pixel <-> tensor conversion. Knows nothing of
        // models or HTTP.
        .target(
            name: "Imaging",
            dependencies: ["CImaging"]
        ),
        // Models on disk, the worker pool with batching, and the HTTP endpoints that join them.
        .target(
            name: "Serving",
            dependencies: [
                "Engine", "HTTPServer", "Imaging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            // The demo page is compiled into the binary (PackageResources.demo_html): one file to deploy.
            resources: [.embedInCode("Resources/demo.html")]
        ),
        .executableTarget(
            name: "deepserve",
            dependencies: [
                "Engine", "HTTPServer", "Serving",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "EngineTests",
            dependencies: ["Engine", "ONNXProto", "CKernels"]
        ),
        .testTarget(
            name: "HTTPServerTests",
            dependencies: ["HTTPServer", "CHTTPShims", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ImagingTests",
            dependencies: ["Imaging", "CImaging"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ServingTests",
            dependencies: [
                "Serving", "Engine", "HTTPServer", "Imaging", "CImaging",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            exclude: ["Scripts"]
        ),
        // Runs the built `deepserve` executable as a user would.
        .testTarget(
            name: "CLITests",
            dependencies: ["deepserve"]
        ),
    ]
)
