#!/usr/bin/env python3
"""Where a network loses time against onnxruntime, by layer shape.

Runs `deepserve bench --profile` and onnxruntime's own profiler (one thread each, the same input shapes) on one
model, then adds up each side's node times by the node's output shape — the one thing both profiles name the same
way, since the two engines fuse and name nodes differently — and lists the shapes by the time deepserve loses there.
A shape class is usually a stage of the network (ResNet's [1, 512, 7, 7] convolutions), so the list says which stage
to look at; `deepserve bench --profile` then names the nodes.

Both profilers time their nodes one after another in one process, so the figures carry the host's noise; compare
the classes within one run, and rerun before trusting a small difference.

Usage: bench/layers.py MODEL.onnx [--batch 1] [--shape NAME=1x3x224x224 …] [--runs 20] [--top 15]
       [--binary .build/release/deepserve]
(build first: swift build -c release --product deepserve; needs onnxruntime and numpy: bench/requirements.txt)
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnxruntime as ort

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
NODE_LINE = re.compile(r"^\s+[\d.]+ %\s+([\d.]+) ms\s+(\S+) .*→ (\[\[.*\]\])\s*$")
DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def parse_shapes(options):
    shapes = {}
    for option in options:
        name, _, dims = option.partition("=")
        shapes[name] = [int(d) for d in dims.split("x")]
    return shapes


def ours(binary, model, batch, shapes, runs):
    """{output shape: (ms per run, [op types])} from `deepserve bench --profile`."""
    command = [binary, "bench", model, "--batch", str(batch), "--runs", str(runs), "--profile", "--slowest", "100000"]
    for name, dims in shapes.items():
        command += ["--shape", f"{name}={'x'.join(map(str, dims))}"]
    text = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    classes = collections.defaultdict(lambda: [0.0, []])
    for line in text.splitlines():
        match = NODE_LINE.match(line)
        if not match:
            continue
        milliseconds, op, outputs = float(match.group(1)), match.group(2), json.loads(match.group(3))
        key = tuple(outputs[0]) if outputs and outputs[0] is not None else ()
        classes[key][0] += milliseconds
        classes[key][1].append(op)
    return classes


def theirs(model, batch, shapes, runs):
    """{output shape: (ms per run, [op types])} from onnxruntime's profiler, one intra-op thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(42)
    feeds = {}
    for info in session.get_inputs():
        dims = shapes.get(info.name) or [d if isinstance(d, int) else batch for d in info.shape]
        dtype = DTYPES.get(info.type, np.float32)
        feeds[info.name] = (rng.random(dims) if dtype == np.float32 else rng.integers(0, 16, dims)).astype(dtype)
    warmup = 3
    for _ in range(warmup + runs):
        session.run(None, feeds)
    path = session.end_profiling()
    with open(path) as file:
        events = json.load(file)
    os.remove(path)
    # Only the timed runs: node events from the start of the first run after the warm-up ones.
    starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    first = starts[warmup] if len(starts) > warmup else 0
    events = [e for e in events if e.get("ts", 0) >= first]
    nodes = {}   # node → [ms per run, output shape, op type]
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        outputs = event["args"].get("output_type_shape") or [{}]
        shape = tuple(next(iter(outputs[0].values()), [])) if outputs else ()
        node = nodes.setdefault(event["name"], [0.0, shape, event["args"].get("op_name", "?")])
        node[0] += event["dur"] / 1000 / runs
    classes = collections.defaultdict(lambda: [0.0, []])
    for milliseconds, shape, op in nodes.values():
        classes[shape][0] += milliseconds
        classes[shape][1].append(op)
    return classes


def summary(ops):
    counts = collections.Counter(ops)
    return ", ".join(f"{n}×{op}" if n > 1 else op for op, n in counts.most_common(3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--shape", action="append", default=[], help="NAME=1x3x224x224, for both sides")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/deepserve"))
    args = parser.parse_args()
    shapes = parse_shapes(args.shape)
    ours_by_shape = ours(args.binary, args.model, args.batch, shapes, args.runs)
    theirs_by_shape = theirs(args.model, args.batch, shapes, args.runs)
    total_ours = sum(v[0] for v in ours_by_shape.values())
    total_theirs = sum(v[0] for v in theirs_by_shape.values())
    print(f"{os.path.basename(args.model)}, batch {args.batch}, {args.runs} profiled runs each, one thread: "
          f"node times add up to {total_ours:.2f} ms (deepserve) and {total_theirs:.2f} ms (onnxruntime)")
    print(f"{'output shape':<24} {'deepserve ms':>12} {'onnxruntime ms':>14} {'lost ms':>8}  deepserve nodes | onnxruntime nodes")
    keys = set(ours_by_shape) | set(theirs_by_shape)
    rows = sorted(keys, key=lambda k: ours_by_shape.get(k, [0])[0] - theirs_by_shape.get(k, [0])[0], reverse=True)
    for key in rows[:args.top]:
        a, b = ours_by_shape.get(key, [0.0, []]), theirs_by_shape.get(key, [0.0, []])
        print(f"{str(list(key)):<24} {a[0]:>12.3f} {b[0]:>14.3f} {a[0] - b[0]:>8.3f}  {summary(a[1])} | {summary(b[1])}")


if __name__ == "__main__":
    sys.exit(main())
