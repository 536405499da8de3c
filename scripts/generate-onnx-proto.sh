#!/usr/bin/env bash
# Regenerates Sources/ONNXProto/onnx.pb.swift from proto/onnx.proto.
#
# The generated file is committed, so building deepserve never needs protoc or the plugin (building
# swift-protobuf's plugin takes minutes). Run this only when proto/onnx.proto changes; it needs
# `protoc` (Debian: protobuf-compiler) and builds protoc-gen-swift at the version Package.swift pins.
#
# proto/onnx.proto is copied verbatim from the `onnx` PyPI package (see proto/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.39.0
work=${TMPDIR:-/tmp}/deepserve-protoc-gen-swift-$version
if [ ! -x "$work/.build/release/protoc-gen-swift" ]; then
  rm -rf "$work"
  git clone -q --branch "$version" https://github.com/apple/swift-protobuf "$work"
  swift build -c release --package-path "$work" --product protoc-gen-swift
fi
protoc --plugin=protoc-gen-swift="$work/.build/release/protoc-gen-swift" \
  --swift_opt=Visibility=Public --swift_out=Sources/ONNXProto -Iproto proto/onnx.proto
echo "wrote Sources/ONNXProto/onnx.pb.swift"
