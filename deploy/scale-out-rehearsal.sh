#!/usr/bin/env bash
# Scale-out rehearsal on one machine: three deepserve replicas on loopback behind nginx (Debian) as the
# load balancer, wrk POSTing digits to classify through it, and SIGTERM to one replica mid-run. Passes when
# no request failed (the draining replica finishes its in-flight work; nginx sends new work elsewhere)
# and the stopped replica exited 0. Run by hand: deploy/scale-out-rehearsal.sh [SECONDS, default 12]
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-12}"
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool"; }
done
swift build -c release --product deepserve >/dev/null
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; nginx -p "$work" -c nginx.conf -s stop 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for port in 18401 18402 18403; do
    .build/release/deepserve serve --port "$port" --grpc-port 0 --shutdown-grace 10 --log-format json > "$work/replica-$port.log" 2>&1 &
    pids+=($!)
done
for port in 18401 18402 18403; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
done

mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/body;
    upstream deepserve {
        server 127.0.0.1:18401 max_fails=1 fail_timeout=5s;
        server 127.0.0.1:18402 max_fails=1 fail_timeout=5s;
        server 127.0.0.1:18403 max_fails=1 fail_timeout=5s;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:18400;
        location / {
            proxy_pass http://deepserve;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # Classification has no side effects, so a POST that met a closing connection may be retried.
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
            proxy_next_upstream_tries 3;
        }
    }
}
CONF
nginx -p "$work" -c nginx.conf

export PNG="$PWD/Tests/Fixtures/models/mnist-heldout/000.png"
wrk -t2 -c32 -d"${duration}s" --latency -s bench/serving/post_png.lua "http://127.0.0.1:18400/v1/models/mnist-cnn/classify" > "$work/wrk.txt" &
load=$!
sleep $(( duration / 3 ))
echo "SIGTERM → replica on 18401 (pid ${pids[0]}) while under load"
kill -TERM "${pids[0]}"
wait "${pids[0]}"; stopped=$?
wait "$load"

cat "$work/wrk.txt"
requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $4}' "$work/wrk.txt"); non2xx=${non2xx:-0}
socket=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/wrk.txt"); socket=${socket:-0}
echo "replica 18401 exit status: $stopped; its last log lines:"
tail -2 "$work/replica-18401.log"
echo "result: $requests requests, $non2xx non-2xx answers, $socket socket errors"
[[ "$stopped" == 0 && "$non2xx" == 0 && "$socket" == 0 ]] && echo "PASS: no request failed while a replica drained" || { echo "FAIL"; exit 1; }
