#!/usr/bin/env bash
# Fuzzes HTTPRequestParser with libFuzzer for SECONDS (default 60): builds the parser's own files (they need no
# Foundation, sockets or C libraries) with -sanitize=fuzzer,address and runs them. Crashes land in .fuzz/artifacts/.
# Usage: scripts/fuzz-http-parser.sh [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"; shift || true
out=.fuzz
mkdir -p "$out/corpus" "$out/artifacts"
src=Sources/HTTPServer
swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name HTTPParserFuzz \
    "$src/HTTPRequestParser.swift" "$src/HTTPRequestParser+Grammar.swift" "$src/HTTPRequestHead.swift" \
    "$src/HTTPHeaders.swift" "$src/HTTPParseError.swift" "$src/HTTPStatus.swift" "$src/Limits.swift" \
    "$src/PercentDecoding.swift" Fuzz/HTTPParser/main.swift \
    -o "$out/http-parser-fuzzer"
# Seeds: a few well-formed requests so the fuzzer starts deep in the grammar.
printf 'GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n' > "$out/corpus/seed-get"
printf 'POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.0\r\n\r\n' > "$out/corpus/seed-pipeline"
printf 'POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n' > "$out/corpus/seed-chunked"
exec "$out/http-parser-fuzzer" "$out/corpus" -artifact_prefix="$out/artifacts/" -max_total_time="$seconds" -print_final_stats=1 -max_len=2048 "$@"
