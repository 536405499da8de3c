#!/usr/bin/env bash
# Runs a libFuzzer target (swiftc -sanitize=fuzzer,address) over the sources it needs, for a given time.
# Usage: scripts/fuzz.sh TARGET [SECONDS] [extra libFuzzer flags...]
#   http-parser  HTTPRequestParser: split-invariance, limits, no traps (Fuzz/HTTPParser)
#   multipart    MultipartFormData: no traps, parts round-trip (Fuzz/MultipartFormData)
# Crashes land in .fuzz/TARGET/artifacts; the corpus grows in .fuzz/TARGET/corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: scripts/fuzz.sh http-parser|multipart [SECONDS]}"; shift
seconds="${1:-60}"; shift || true
out=".fuzz/$target"
mkdir -p "$out/corpus" "$out/artifacts"
src=Sources/HTTPServer
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
*) echo "unknown target $target (http-parser or multipart)" >&2; exit 2 ;;
esac
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzTarget "${sources[@]}" -o "$out/fuzzer"
exec "$out/fuzzer" "$out/corpus" -artifact_prefix="$out/artifacts/" -max_total_time="$seconds" -print_final_stats=1 \
    -max_len="$max_len" "$@"
