#!/usr/bin/env bash
# Serving benchmark: POST a PNG digit to /v1/models/mnist-cnn/classify with wrk at 1, 16 and 64 connections,
# against deepserve with batching (the model's config), deepserve without batching, and the reference
# (FastAPI + uvicorn[standard] + onnxruntime, one worker process per core, blocking work in the thread pool:
# bench/serving/reference_server.py), all in the same run.
# Prints requests/s, p50 and p99, and deepserve's overhead per request, mean and p50 (request time minus its share
# of compute, from /metrics); then generation tokens/s with and without step batching (bench/serving/generation.py).
# Usage: bench/serving/run.sh [SECONDS per point, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r bench/serving/requirements.txt
swift build -c release --product deepserve >/dev/null
export PNG="$PWD/Tests/Fixtures/models/mnist-heldout/000.png"

# A copy of the model repository with batching turned off, for the "no batching" runs.
unbatched=$(mktemp -d)
cp -r models/mnist-cnn "$unbatched/"
python3 - "$unbatched/mnist-cnn/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["batching"] = {"max_batch_size": 1}; json.dump(c, open(sys.argv[1], "w"))
PY

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$unbatched"' EXIT
.build/release/deepserve serve --port 18301 --log-format json > /dev/null 2>&1 & pids+=($!)
.build/release/deepserve serve --port 18302 --model-repository "$unbatched" --log-format json > /dev/null 2>&1 & pids+=($!)
python3 bench/serving/reference_server.py 18303 > /dev/null 2>&1 & pids+=($!)
for port in 18301 18302; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
done
for _ in $(seq 100); do curl -sf -X POST --data-binary @"$PNG" "http://127.0.0.1:18303/v1/models/mnist-cnn/classify" >/dev/null && break; sleep 0.2; done

measure() {   # port connections → "rps p50_ms p99_ms"
    local t=$(( $2 < 2 ? $2 : 2 ))
    wrk -t"$t" -c"$2" -d"${duration}s" --latency -s bench/serving/post_png.lua "http://127.0.0.1:$1/v1/models/mnist-cnn/classify" | awk '
        function ms(v,  unit) { unit = v; gsub(/[0-9.]/, "", unit); gsub(/[a-z]/, "", v)
                                return (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
        /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $4 }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }'
}

overhead() {   # port → "mean p50" µs per classify request spent neither queued nor computing
    # (deepserve_request_overhead_seconds: each request's handler time minus its queue and batch compute time;
    # p50 interpolated within the histogram's microsecond buckets).
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        index($0, "deepserve_request_overhead_seconds_bucket{route=\"/v1/models/{name}/classify\"") == 1 {
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            if (le != "+Inf") { n_b++; bound[n_b] = le + 0; cum[n_b] = $NF + 0 } }
        index($0, "deepserve_request_overhead_seconds_sum{route=\"/v1/models/{name}/classify\"") == 1 { s = $NF }
        index($0, "deepserve_request_overhead_seconds_count{route=\"/v1/models/{name}/classify\"") == 1 { n = $NF }
        END {
            if (n == 0) { printf "- -\n"; exit }
            half = n / 2; lower = 0; below = 0; p50 = -1
            for (i = 1; i <= n_b; i++) {
                if (cum[i] >= half) { p50 = lower + (bound[i] - lower) * (half - below) / (cum[i] - below + 1e-12); break }
                lower = bound[i]; below = cum[i]
            }
            printf "%.1f %s\n", s / n * 1e6, (p50 < 0 ? ">" bound[n_b] * 1e6 : sprintf("%.1f", p50 * 1e6))
        }'
}

printf "%-6s  %-22s %10s %9s %9s %8s\n" conns server "req/s" "p50 ms" "p99 ms" "errors"
for c in 1 16 64; do
    for entry in "18301 deepserve-batching" "18302 deepserve-no-batching" "18303 fastapi+onnxruntime"; do
        set -- $entry
        read -r rps p50 p99 bad < <(measure "$1" "$c")
        printf "%-6s  %-22s %10s %9s %9s %8s\n" "$c" "$2" "$rps" "$p50" "$p99" "$bad"
    done
done
read -r batched_mean batched_p50 < <(overhead 18301)
read -r single_mean single_p50 < <(overhead 18302)
echo "deepserve overhead per request (handler time − queue time − batch compute time), mean / p50:" \
     "batching $batched_mean / $batched_p50 µs, no batching $single_mean / $single_p50 µs"

# Generation: total tokens/s at 1, 4, 16 and 64 concurrent generations, step batching on and off.
python3 bench/serving/generation.py --seconds "$duration"
