#!/usr/bin/env bash
# HTTP throughput and latency: deepserve's server against a minimal Hummingbird server, same route, same run.
# Drives each with wrk (apt install wrk) on loopback at 1, 16 and 256 connections; prints requests/s, p99 and ratios.
# Usage: bench/http/run.sh [SECONDS per point, default 10] [THREADS for wrk, default 2]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10}"
threads="${2:-2}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

swift build -c release --product deepserve >/dev/null
swift build -c release --package-path bench/http/reference >/dev/null
ours_port=18191 ref_port=18192 quiet_port=18193
.build/release/deepserve serve --port "$ours_port" --log-format text > /dev/null 2>&1 & ours=$!
# The reference logs nothing; ours writes an access-log line per request. A second instance without it
# (--log-level warning) shows what that line costs.
.build/release/deepserve serve --port "$quiet_port" --log-level warning > /dev/null 2>&1 & quiet=$!
bench/http/reference/.build/release/Reference "$ref_port" > /dev/null 2>&1 & ref=$!
trap 'kill $ours $ref $quiet 2>/dev/null || true' EXIT
for port in $ours_port $ref_port $quiet_port; do
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health/live" >/dev/null && break; sleep 0.1; done
done

# wrk's --latency prints a distribution; take Requests/sec and the 99% line (normalised to milliseconds).
measure() {
    local port=$1 connections=$2 t=$threads
    (( connections < t )) && t=$connections
    wrk -t"$t" -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$port/health/live" | awk '
        /Requests\/sec/ { rps = $2 }
        $1 == "99%" { v = $2; unit = v; gsub(/[0-9.]/, "", unit); gsub(/[a-z]/, "", v)
                      p99 = (unit == "us") ? v / 1000 : (unit == "s") ? v * 1000 : v }
        END { printf "%.0f %.3f\n", rps, p99 }'
}

printf "%-12s %14s %10s %14s %10s %9s %9s %16s %10s\n" connections "ours req/s" "ours p99" "hb req/s" "hb p99" \
    "rps ratio" "p99 ratio" "no-log req/s" "no-log p99"
for connections in 1 16 256; do
    read -r our_rps our_p99 < <(measure $ours_port "$connections")
    read -r ref_rps ref_p99 < <(measure $ref_port "$connections")
    read -r quiet_rps quiet_p99 < <(measure $quiet_port "$connections")
    awk -v c="$connections" -v a="$our_rps" -v b="$our_p99" -v x="$ref_rps" -v y="$ref_p99" -v q="$quiet_rps" -v r="$quiet_p99" 'BEGIN {
        printf "%-12s %14.0f %8.3fms %14.0f %8.3fms %9.2f %9.2f %16.0f %8.3fms\n", c, a, b, x, y, (x > 0 ? a / x : 0), (y > 0 ? b / y : 0), q, r }'
done
