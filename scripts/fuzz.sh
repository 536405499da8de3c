#!/usr/bin/env bash
# Runs a libFuzzer target (swiftc -sanitize=fuzzer,address) over the sources it needs, for a given time.
# Usage: scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags...]
#   http-parser  HTTPRequestParser: split-invariance, limits, no traps (Fuzz/HTTPParser)
#   multipart    MultipartFormData: no traps, parts round-trip (Fuzz/MultipartFormData)
#   request-bodies  generate, sample and classify bodies: in range or refused (Fuzz/RequestBodies)
#   kserve-v2    KServe V2 infer JSON and binary framing: bytes match shapes or refused (Fuzz/KServeV2)
#   model-config config.json with its image preprocessing: decodes or refused (Fuzz/ModelConfig)
#   grpc-tensors KServe V2 gRPC ModelInferRequest wire bytes: typed, raw and BYTES tensors match shapes or refused (Fuzz/GRPCTensors)
#   tf-predict   TensorFlow Serving :predict bodies, row and columnar, nested and b64: match declared inputs or refused (Fuzz/TFPredict)
# Serving's decoders are compiled with the few Engine/Imaging files they use as one module: the script copies them
# into .fuzz/TARGET/src without their `import Engine`/`import Imaging`/`import HTTPServer`/`import InferenceGRPC` lines.
# grpc-tensors also needs SwiftProtobuf: built once (without fuzzer instrumentation) into .fuzz/swift-protobuf from the
# package's checkout (`swift package resolve` first if .build/checkouts lacks it).
# Crashes land in .fuzz/TARGET/artifacts; the corpus grows in .fuzz/TARGET/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="http-parser|multipart|request-bodies|kserve-v2|model-config|grpc-tensors|tf-predict"
target="${1:?usage: scripts/fuzz.sh $targets [SECONDS]}"; shift
seconds="${1:-60}"; shift || true
out=".fuzz/$target"
mkdir -p "$out/corpus" "$out/artifacts"
src=Sources/HTTPServer
serving=Sources/Serving
engine=(Sources/Engine/Core/Tensor.swift Sources/Engine/Core/TensorStorage.swift Sources/Engine/Core/DataType.swift
        Sources/Engine/Ops/NumericElement.swift Sources/Engine/Core/KernelError.swift)
links=()
case "$target" in
http-parser)
    sources=("$src/HTTPRequestParser.swift" "$src/HTTPRequestParser+Grammar.swift" "$src/HTTPRequestHead.swift"
             "$src/HTTPHeaders.swift" "$src/HTTPParseError.swift" "$src/HTTPStatus.swift" "$src/Limits.swift"
             "$src/PercentDecoding.swift" Fuzz/HTTPParser/main.swift)
    printf 'GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n' > "$out/corpus/seed-get"
    printf 'POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n' > "$out/corpus/seed-pipeline"
    printf 'POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n' > "$out/corpus/seed-chunked"
    max_len=2048 ;;
multipart)
    sources=("$src/MultipartFormData.swift" "$src/HTTPHeaders.swift" Fuzz/MultipartFormData/main.swift)
    printf 'hpre\r\n--Ba\r\nContent-Disposition: form-data; name="f"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--Ba\r\n\r\nx\r\n--Ba--\r\n' > "$out/corpus/seed-form"
    max_len=4096 ;;
request-bodies)
    sources=(Sources/Serving/Inference/ClientNumber.swift Sources/Serving/Inference/ServingError.swift Sources/Serving/Store/ModelConfig.swift
             Sources/Serving/Store/VersionPolicy.swift Sources/Serving/Store/ModelFolder.swift Sources/Serving/Requests/GenerateRequest.swift Sources/Serving/Requests/SampleRequest.swift
             Sources/Serving/Requests/SplitMix64.swift Sources/Serving/Requests/JSONBody.swift
             Sources/Serving/Requests/ImagePayload.swift Sources/HTTPServer/MultipartFormData.swift
             Sources/HTTPServer/HTTPHeaders.swift Fuzz/RequestBodies/main.swift)
    printf '\x00{"prompt":"To be","max_tokens":5,"temperature":0.5,"top_k":3,"top_p":0.9,"seed":18446744073709551615,"stop":["x"]}' > "$out/corpus/seed-generate"
    printf '\x82{"interpolate":{"from":1,"to":2,"steps":4}}' > "$out/corpus/seed-interpolate"
    printf '\x04{"latent":[[0.5]],"count":2,"seed":7}' > "$out/corpus/seed-latent"
    printf '\x02{"images":["iVBORw0KGgo=","data:image/png;base64,AAAA"]}' > "$out/corpus/seed-classify-json"
    printf '\x05--Bx\r\nContent-Disposition: form-data; name="f"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--Bx--\r\n' > "$out/corpus/seed-classify-form"
    max_len=4096 ;;
kserve-v2)
    sources=(Sources/Serving/Inference/ClientNumber.swift Sources/Serving/Inference/ServingError.swift Sources/Serving/Requests/JSONBody.swift
             Sources/Serving/Adapters/KServeV2HTTP/InferenceBody.swift Sources/Serving/Adapters/KServeV2HTTP/TensorJSON.swift
             Sources/Serving/Adapters/KServeV2HTTP/JSONTensorData.swift Sources/Engine/Core/Tensor.swift
             Sources/Engine/Core/TensorStorage.swift Sources/Engine/Core/DataType.swift Sources/Engine/Ops/NumericElement.swift
             Sources/Engine/Core/KernelError.swift
             Fuzz/KServeV2/main.swift)
    printf '\n{"inputs":[{"name":"x","shape":[2,2],"datatype":"INT64","data":[[1,-2],[3,9223372036854775807]]}],"outputs":[{"name":"y"}]}' > "$out/corpus/seed-json"
    printf '74\n{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}\x00\x00\x80\x3f\x00\x00\x00\x40' > "$out/corpus/seed-binary"
    max_len=4096 ;;
model-config)
    sources=(Sources/Serving/Store/ModelConfig.swift Sources/Serving/Store/VersionPolicy.swift Sources/Serving/Store/ModelFolder.swift
             Sources/Imaging/ImagePreprocessing.swift Sources/Imaging/Image+Tensor.swift
             Sources/Imaging/Image.swift Sources/Imaging/Image+Resize.swift Sources/Imaging/ImageError.swift
             Fuzz/ModelConfig/main.swift)
    for model in models/*/; do cp "$model/config.json" "$out/corpus/seed-$(basename "$model")"; done
    max_len=8192 ;;
grpc-tensors)
    sources=($serving/Inference/ClientNumber.swift $serving/Inference/ServingError.swift $serving/Inference/NamedTensor.swift
             $serving/Adapters/KServeV2HTTP/TensorJSON.swift $serving/Adapters/KServeV2GRPC/GRPCTensors.swift
             $serving/Adapters/KServeV2GRPC/GRPCTensors+Text.swift Sources/InferenceGRPC/grpc_predict_v2.pb.swift
             "${engine[@]}" Fuzz/GRPCTensors/main.swift)
    protobuf=.fuzz/swift-protobuf
    if [ ! -f "$protobuf/libSwiftProtobuf.a" ]; then
        mkdir -p "$protobuf"
        swiftc -parse-as-library -O -module-name SwiftProtobuf -package-name swift_protobuf -emit-module -emit-module-path "$protobuf/SwiftProtobuf.swiftmodule" \
            -emit-library -static -o "$protobuf/libSwiftProtobuf.a" .build/checkouts/swift-protobuf/Sources/SwiftProtobuf/*.swift
    fi
    links=(-I "$protobuf" -L "$protobuf" -lSwiftProtobuf)
    python3 scripts/fuzz-grpc-seeds.py "$out/corpus"
    max_len=4096 ;;
tf-predict)
    sources=($serving/Inference/ClientNumber.swift $serving/Inference/ServingError.swift $serving/Inference/NamedTensor.swift
             $serving/Inference/ModelMetadata.swift $serving/Requests/JSONBody.swift $serving/Adapters/KServeV2HTTP/TensorJSON.swift
             $serving/Adapters/TFServingREST/TFPredictRequest.swift $serving/Adapters/TFServingREST/TFNestedValues.swift
             $serving/Adapters/TFServingREST/TFAnswers.swift "${engine[@]}" Fuzz/TFPredict/main.swift)
    printf '\x00{"instances":[[1,2,3],[4.5,-6,7e3]]}' > "$out/corpus/seed-rows"
    printf '\x00{"signature_name":"serving_default","inputs":[[1,2,3]]}' > "$out/corpus/seed-columns"
    printf '\x01{"instances":[{"b64":"AAECAw=="}]}' > "$out/corpus/seed-b64-row"
    printf '\x01{"inputs":{"b64":"AAECAwQFBgc="}}' > "$out/corpus/seed-b64-columns"
    printf '\x02{"instances":[{"ids":[1,2],"mask":[true,false,1,0]},{"ids":[3,9223372036854775807],"mask":[0,0,0,1]}]}' > "$out/corpus/seed-named-rows"
    printf '\x02{"inputs":{"ids":[[1]],"mask":[[true,true,false,false]]}}' > "$out/corpus/seed-named-columns"
    printf '\x03{"instances":["a"]}' > "$out/corpus/seed-string"
    max_len=4096 ;;
*) echo "unknown target $target ($targets)" >&2; exit 2 ;;
esac
# One module from several of the package's modules: drop the imports between them.
mkdir -p "$out/src"
rm -f "$out"/src/*.swift
copies=()
for file in "${sources[@]}"; do
    copy="$out/src/$(echo "$file" | tr '/' '_')"
    # A name qualified by its module (`Serving.ModelMetadata`) is qualified by the fuzz module's instead.
    sed -E -e '/^import (Engine|Imaging|HTTPServer|CImaging|CKernels|InferenceGRPC)$/d' -e 's/\bServing\.([A-Z])/FuzzTarget.\1/g' \
        "$file" > "$copy"
    copies+=("$copy")
done
sources=("${copies[@]}")
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzTarget "${sources[@]}" "${links[@]}" -o "$out/fuzzer"
exec "$out/fuzzer" "$out/corpus" -artifact_prefix="$out/artifacts/" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len="$max_len" "$@"
