#!/usr/bin/env bash
# Serving benchmark: POST a PNG digit to /v1/models/mnist-cnn/classify with wrk at 1, 16 and 64 connections,
# against deepserve with batching (the model's config), deepserve without batching, and the reference
# (FastAPI + uvicorn[standard] + onnxruntime, one worker process per core, blocking work in the thread pool:
# bench/serving/reference_server.py), all in the same run.
# Prints requests/s, p50 and p99; at 1 connection, deepserve's p50 against the network's own compute time; deepserve's
# overhead per request at each point, mean and p50 (request time minus its share of compute, from /metrics); the HTTP
# server alone on its cheapest route (/health/live) against nginx (bench/serving/nginx.conf: 1 worker process, access
# log off) at 1, 16 and 256 connections; then generation tokens/s with and without step batching
# (bench/serving/generation.py).
# Everything runs on the same cores as wrk, so only ratios within one run mean much.
# Usage: bench/serving/run.sh [SECONDS per point, default 10]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "nginx is missing: apt-get install -y nginx" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
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

# nginx for the trivial route, from its own scratch folder.
sed "s/PORT/18310/" bench/serving/nginx.conf > "$unbatched/nginx.conf"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$unbatched"' EXIT
.build/release/deepserve serve --port 18301 --grpc-port 0 --log-format json > /dev/null 2>&1 & pids+=($!)
.build/release/deepserve serve --port 18302 --grpc-port 0 --model-repository "$unbatched" --log-format json > /dev/null 2>&1 & pids+=($!)
# The same server without its access log (nginx runs with its own off), for the trivial route.
.build/release/deepserve serve --port 18304 --grpc-port 0 --model-repository "$unbatched" --log-level warning > /dev/null 2>&1 & pids+=($!)
python3 bench/serving/reference_server.py 18303 > /dev/null 2>&1 & pids+=($!)
"$nginx" -p "$unbatched" -e "$unbatched/nginx-error.log" -c "$unbatched/nginx.conf" > /dev/null 2>&1 & pids+=($!)
for port in 18301 18302 18304; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
done
for _ in $(seq 100); do curl -sf -X POST --data-binary @"$PNG" "http://127.0.0.1:18303/v1/models/mnist-cnn/classify" >/dev/null && break; sleep 0.2; done

for _ in $(seq 50); do curl -sf "http://127.0.0.1:18310/" >/dev/null && break; sleep 0.1; done

wrk_figures() {   # connections url [wrk options…] → "rps p50_ms p99_ms non2xx"
    local c=$1 url=$2; shift 2
    local t=$(( c < 2 ? c : 2 ))
    wrk -t"$t" -c"$c" -d"${duration}s" --latency "$@" "$url" | awk '
        function ms(v,  unit) { unit = v; gsub(/[0-9.]/, "", unit); gsub(/[a-z]/, "", v)
                                return (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
        /Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { bad = $4 }
        END { printf "%.0f %.3f %.3f %d\n", rps, p50, p99, bad }'
}

measure() {   # port connections → "rps p50_ms p99_ms non2xx"
    wrk_figures "$2" "http://127.0.0.1:$1/v1/models/mnist-cnn/classify" -s bench/serving/post_png.lua
}

compute_totals() {   # port → "sum_seconds count" of mnist-cnn's batch compute so far (from /metrics)
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        index($0, "deepserve_inference_compute_seconds_sum{model=\"mnist-cnn\"") == 1 { s = $NF }
        index($0, "deepserve_inference_compute_seconds_count{model=\"mnist-cnn\"") == 1 { n = $NF }
        END { printf "%s %s\n", (s == "" ? 0 : s), (n == "" ? 0 : n) }'
}

overhead_histogram() {   # port → "sum count le:cumulative …" of classify's deepserve_request_overhead_seconds so far
    # (each request's handler time minus its queue and batch compute time).
    curl -s "http://127.0.0.1:$1/metrics" | awk '
        index($0, "deepserve_request_overhead_seconds_bucket{route=\"/v1/models/{name}/classify\"") == 1 {
            match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
            if (le != "+Inf") buckets = buckets " " le ":" $NF }
        index($0, "deepserve_request_overhead_seconds_sum{route=\"/v1/models/{name}/classify\"") == 1 { s = $NF }
        index($0, "deepserve_request_overhead_seconds_count{route=\"/v1/models/{name}/classify\"") == 1 { n = $NF }
        END { printf "%s %s%s\n", (s == "" ? 0 : s), (n == "" ? 0 : n), buckets }'
}

overhead_between() {   # "before" "after" histograms → "mean p50" µs of the requests in between
    # (p50 interpolated within the histogram's microsecond buckets).
    awk -v before="$1" -v after="$2" 'BEGIN {
        nb = split(before, b, " "); na = split(after, a, " ")
        n = a[2] - b[2]; if (n <= 0) { print "- -"; exit }
        half = n / 2; lower = 0; below = 0; p50 = -1
        for (i = 3; i <= na; i++) {
            split(a[i], x, ":"); split(b[i], y, ":"); bound = x[1] + 0; cum = x[2] - y[2]
            if (cum >= half) { p50 = lower + (bound - lower) * (half - below) / (cum - below + 1e-12); break }
            lower = bound; below = cum
        }
        printf "%.1f %s\n", (a[1] - b[1]) / n * 1e6, (p50 < 0 ? ">" bound * 1e6 : sprintf("%.1f", p50 * 1e6)) }'
}

printf "%-6s  %-22s %10s %9s %9s %8s\n" conns server "req/s" "p50 ms" "p99 ms" "errors"
declare -A overheads
for c in 1 16 64; do
    for entry in "18301 deepserve-batching" "18302 deepserve-no-batching" "18303 fastapi+onnxruntime"; do
        set -- $entry
        [ "$1:$c" = 18302:1 ] && read -r compute_before_sum compute_before_n < <(compute_totals 18302)
        [ "$1" != 18303 ] && histogram_before=$(overhead_histogram "$1")
        read -r rps p50 p99 bad < <(measure "$1" "$c")
        [ "$1" != 18303 ] && overheads[$1:$c]=$(overhead_between "$histogram_before" "$(overhead_histogram "$1")")
        [ "$1:$c" = 18302:1 ] && { read -r compute_after_sum compute_after_n < <(compute_totals 18302); single_p50=$p50; }
        printf "%-6s  %-22s %10s %9s %9s %8s\n" "$c" "$2" "$rps" "$p50" "$p99" "$bad"
    done
done
# At 1 connection every run is a batch of one, so the mean compute time of that point is the network's own time.
awk -v s0="$compute_before_sum" -v n0="$compute_before_n" -v s1="$compute_after_sum" -v n1="$compute_after_n" -v p50="$single_p50" 'BEGIN {
    if (n1 - n0 <= 0) { print "1 connection: no compute figures"; exit }
    compute = (s1 - s0) / (n1 - n0) * 1e6
    printf "1 connection, no batching: p50 %.0f µs, network compute %.0f µs (mean), the rest %.0f µs (wrk, loopback, HTTP, decoding, JSON)\n", p50 * 1000, compute, p50 * 1000 - compute }'
# Per point: at 16 and 64 connections the handlers also wait for a core (wrk and both servers share two), which the
# 1-connection figure leaves out.
echo "deepserve overhead per request (handler time − queue time − batch compute time), mean / p50 µs:"
for c in 1 16 64; do
    read -r batched_mean batched_p50 <<< "${overheads[18301:$c]}"
    read -r single_mean single_p50 <<< "${overheads[18302:$c]}"
    printf "  %2s connections: no batching %s / %s, batching %s / %s\n" "$c" "$single_mean" "$single_p50" "$batched_mean" "$batched_p50"
done

# The HTTP server alone: its cheapest route against nginx answering a fixed 200, same run, same client.
printf "\ntrivial route (GET /health/live; nginx: return 200, 1 worker, access log off)\n"
printf "%-6s %12s %9s %9s %14s %9s %9s %12s %9s %9s %9s %9s\n" conns "ours req/s" "p50 ms" "p99 ms" "no-log req/s" \
    "p50 ms" "p99 ms" "nginx req/s" "p50 ms" "p99 ms" "×nginx" "no-log×"
for c in 1 16 256; do
    read -r our_rps our_p50 our_p99 _ < <(wrk_figures "$c" http://127.0.0.1:18301/health/live)
    read -r quiet_rps quiet_p50 quiet_p99 _ < <(wrk_figures "$c" http://127.0.0.1:18304/health/live)
    read -r ngx_rps ngx_p50 ngx_p99 _ < <(wrk_figures "$c" http://127.0.0.1:18310/health/live)
    awk -v c="$c" -v a="$our_rps" -v b="$our_p50" -v d="$our_p99" -v q="$quiet_rps" -v r="$quiet_p50" -v u="$quiet_p99" \
        -v x="$ngx_rps" -v y="$ngx_p50" -v z="$ngx_p99" 'BEGIN {
        printf "%-6s %12.0f %9.3f %9.3f %14.0f %9.3f %9.3f %12.0f %9.3f %9.3f %8.2f× %8.2f×\n", c, a, b, d, q, r, u, x, y, z,
            (x > 0 ? a / x : 0), (x > 0 ? q / x : 0) }'
done
echo

# Generation: total tokens/s at 1, 4, 16 and 64 concurrent generations, step batching on and off.
python3 bench/serving/generation.py --seconds "$duration"
