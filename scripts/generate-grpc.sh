#!/usr/bin/env bash
# Regenerates Sources/InferenceGRPC/*.pb.swift and *.grpc.swift from proto/grpc_predict_v2.proto (KServe V2 over
# gRPC with Triton's repository extension) and proto/grpc/health/v1/health.proto (the standard health service).
#
# The generated files are committed, so building deepserve (and CI) never needs protoc or the plugins: a first build
# of swift-protobuf's plugin alone takes about ten minutes on two cores. Run this only when a .proto changes. It
# installs `protoc` (Debian: protobuf-compiler) when missing and builds protoc-gen-swift and
# protoc-gen-grpc-swift-2 at the versions Package.swift names, in a scratch folder outside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
grpc_protobuf_version=2.4.1
work=${TMPDIR:-/tmp}/deepserve-grpc-plugins-$grpc_protobuf_version
if ! command -v protoc >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler
fi
if [ ! -x "$work/scratch/debug/protoc-gen-grpc-swift-2" ] || [ ! -x "$work/scratch/debug/protoc-gen-swift" ]; then
  rm -rf "$work"
  git clone -q --branch "$grpc_protobuf_version" https://github.com/grpc/grpc-swift-protobuf "$work/src"
  # Pin swift-protobuf to the version deepserve uses, so the generated code matches the runtime library.
  swift package --package-path "$work/src" --scratch-path "$work/scratch" resolve
  swift package --package-path "$work/src" --scratch-path "$work/scratch" resolve swift-protobuf --version 1.39.0
  # Debug is enough for a code generator, and builds in about half the time of release.
  swift build -j 1 --package-path "$work/src" --scratch-path "$work/scratch" --product protoc-gen-grpc-swift-2
  swift build -j 1 --package-path "$work/src" --scratch-path "$work/scratch" --product protoc-gen-swift
fi
out=Sources/InferenceGRPC
rm -f "$out"/*.pb.swift "$out"/*.grpc.swift
protoc --plugin=protoc-gen-swift="$work/scratch/debug/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift="$work/scratch/debug/protoc-gen-grpc-swift-2" \
  --swift_opt=Visibility=Public --swift_out="$out" \
  --grpc-swift_opt=Visibility=Public,Server=true,Client=true --grpc-swift_out="$out" \
  -Iproto proto/grpc_predict_v2.proto proto/grpc/health/v1/health.proto
# Flatten grpc/health/v1/ into the target folder (SwiftPM doesn't mind, but one folder is easier to review).
if [ -d "$out/grpc" ]; then
  find "$out/grpc" -name '*.swift' -exec mv {} "$out"/ \;
  rm -rf "$out/grpc"
fi
ls "$out"
