#!/usr/bin/env bash
# gRPC vs HTTP/JSON vs HTTP/binary throughput for the digit CNN, from one run of one release server, with the stock
# tritonclient (bench/protocols/client.py). Usage: bench/protocols/run.sh [SECONDS per protocol, default 10] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "tritonclient[http,grpc]==2.73.0" numpy
swift build -j 1 -c release --product deepserve >/dev/null
.build/release/deepserve serve --port 18401 --grpc-port 18402 --log-level warning > /dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 200); do curl -sf "http://127.0.0.1:18401/health/ready" >/dev/null && break; sleep 0.1; done
python3 bench/protocols/client.py 127.0.0.1:18401 127.0.0.1:18402 "${1:-10}" "${2:-4}"
