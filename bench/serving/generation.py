#!/usr/bin/env python3
"""Generation throughput with and without step batching, from one run.

Starts two release servers on the shipped shakespeare-lstm: one as shipped (step batching on) and one from a copy
whose config.json sets "generation": {"step_batching": false} (every step a lone request, as before step batching).
At 1, 4, 16 and 64 concurrent clients, each client generates back to back (max_tokens tokens per request, its own
seed per request) for SECONDS in all, split into ROUNDS that alternate between the servers, so that load from
elsewhere on the shared cores falls on both alike. Prints total tokens/s for each and the ratio, after checking
that both servers give the same text for the same seeds.

With --today BINARY (a release build of main from before step batching) a third column measures that binary on the
same model folder, for the figure "over today's".

Usage: bench/serving/generation.py [--seconds 8] [--rounds 4] [--tokens 200] [--binary .build/release/deepserve]
                                   [--today BINARY]
(build first: swift build -c release --product deepserve)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = "shakespeare-lstm"
LEVELS = [1, 4, 16, 64]


def generate(port, seed, tokens):
    body = json.dumps({"prompt": "ROMEO:\n", "max_tokens": tokens, "seed": seed}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/{MODEL}/generate", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    return answer["text"], answer["tokens"]


def measure(port, clients, seconds, tokens):
    """Tokens and seconds of `clients` threads generating back to back for `seconds` (requests still running at the
    end are finished and counted, with the time they took)."""
    counts = [0] * clients
    errors = []
    stop = time.monotonic() + seconds

    def client(index):
        seed = index * 1_000_003
        try:
            while time.monotonic() < stop:
                counts[index] += generate(port, seed, tokens)[1]
                seed += 1
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    if errors:
        print(f"  {len(errors)} errors, first: {errors[0]}", file=sys.stderr)
    return sum(counts), elapsed


def start(binary, repository, port):
    # No gRPC listener: the servers would all claim its default port (an environment variable rather than
    # --grpc-port, which a --today binary from before gRPC would refuse).
    process = subprocess.Popen([binary, "serve", "--port", str(port), "--model-repository", repository,
                                "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "DEEPSERVE_GRPC_PORT": "0"})
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1)
            return process
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    process.kill()
    sys.exit(f"the server on port {port} did not become ready")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/deepserve"))
    parser.add_argument("--today", help="another deepserve binary to measure alongside (e.g. main before step batching)")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="deepserve-generation-")
    servers = []
    try:
        for name, batching in [("on", True), ("off", False)]:
            folder = os.path.join(scratch, name)
            shutil.copytree(os.path.join(ROOT, "models", MODEL), os.path.join(folder, MODEL))
            config_path = os.path.join(folder, MODEL, "config.json")
            with open(config_path) as file:
                config = json.load(file)
            config.setdefault("generation", {})["step_batching"] = batching
            with open(config_path, "w") as file:
                json.dump(config, file)
        on = start(args.binary, os.path.join(scratch, "on"), 18421)
        servers.append(on)
        off = start(args.binary, os.path.join(scratch, "off"), 18422)
        servers.append(off)
        if args.today:
            servers.append(start(args.today, os.path.join(scratch, "off"), 18423))

        same = all(generate(18421, seed, 60)[0] == generate(18422, seed, 60)[0] for seed in range(5))
        print(f"{MODEL}, {args.tokens} tokens per request, {args.seconds:g} s per point in {args.rounds} rounds; "
              f"same text per seed with step batching on and off: {'yes' if same else 'NO'}")
        today_header = f"  {'today tokens/s':>14}  {'on/today':>8}" if args.today else ""
        print(f"{'streams':>7}  {'off tokens/s':>12}  {'on tokens/s':>12}  {'on/off':>7}{today_header}")
        ports = [18422, 18421] + ([18423] if args.today else [])
        for clients in LEVELS:
            for port in ports:
                measure(port, clients, 0.5, args.tokens)   # warm up: lanes, allocator, caches
            totals = {port: [0, 0.0] for port in ports}
            for _ in range(args.rounds):
                for port in ports:
                    produced, elapsed = measure(port, clients, args.seconds / args.rounds, args.tokens)
                    totals[port][0] += produced
                    totals[port][1] += elapsed
            off_rate, on_rate = (totals[port][0] / totals[port][1] for port in ports[:2])
            today = ""
            if args.today:
                today_rate = totals[18423][0] / totals[18423][1]
                today = f"  {today_rate:>14.0f}  {on_rate / today_rate:>7.2f}×"
            print(f"{clients:>7}  {off_rate:>12.0f}  {on_rate:>12.0f}  {on_rate / off_rate:>6.2f}×{today}", flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
