#!/usr/bin/env python3
"""Engine vs onnxruntime, and our GEMM vs numpy, single-threaded, in one run.

    bench/run.sh            # builds the release binary and the benchmark models, then runs this

Prints two tables of medians (lower ms / higher GFLOP/s is better) and the ratios; the machine is
shared and noisy, so compare figures from the same run only.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

# One thread for every reference: set before numpy/onnxruntime load their thread pools.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
# Old-CPU workarounds set on these machines slow a current OpenBLAS down (see the env notes).
os.environ.pop("OPENBLAS_CORETYPE", None)
os.environ.pop("OPENBLAS_L2_SIZE", None)

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ort_session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds_for(session, batch, rng):
    feeds = {}
    for value in session.get_inputs():
        shape = [d if isinstance(d, int) else batch for d in value.shape]
        if value.type == "tensor(int64)":
            feeds[value.name] = rng.integers(0, 16, size=shape).astype(np.int64)
        else:
            feeds[value.name] = rng.random(shape, dtype=np.float32)
    return feeds


def median_seconds(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def ours(binary, path, batch, runs, warmup):
    out = subprocess.run([binary, "bench", path, "--batch", str(batch), "--runs", str(runs), "--warmup", str(warmup), "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_ms"] / 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/deepserve"))
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    models = sorted(glob.glob(os.path.join(ROOT, "models/*/1/*.onnx")))
    resnet = os.path.join(ROOT, "bench/.models/resnet18.onnx")
    if os.path.exists(resnet):
        models.append(resnet)

    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, single thread; medians\n")
    print(f"{'model':44} {'batch':>5} {'deepserve ms':>13} {'onnxruntime ms':>15} {'ratio':>7}")
    for path in models:
        name = os.path.relpath(path, ROOT)
        session = ort_session(path)
        for batch in (1, 32):
            if "resnet" in name and batch == 32:
                runs = 3
            else:
                runs = args.runs if batch == 1 else max(5, args.runs // 5)
            feeds = feeds_for(session, batch, rng)
            reference = median_seconds(lambda: session.run(None, feeds), runs, max(2, runs // 10))
            mine = ours(args.binary, path, batch, runs, max(2, runs // 10))
            print(f"{name:44} {batch:5d} {mine * 1e3:13.3f} {reference * 1e3:15.3f} {mine / reference:6.2f}×")

    print(f"\n{'GEMM (square, fp32)':20} {'deepserve GFLOP/s':>18} {'numpy GFLOP/s':>14} {'onnxruntime GFLOP/s':>20} {'vs numpy':>9}")
    for n in (256, 512, 1024):
        path = os.path.join(ROOT, f"bench/.models/matmul_{n}.onnx")
        flops = 2.0 * n ** 3
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        runs = 30 if n < 1024 else 10
        numpy_s = median_seconds(lambda: a @ b, runs, 3)
        session = ort_session(path)
        ort_s = median_seconds(lambda: session.run(None, {"X": a}), runs, 3)
        mine = ours(args.binary, path, 1, runs, 3)
        print(f"{n:>4}³{'':15} {flops / mine / 1e9:18.1f} {flops / numpy_s / 1e9:14.1f} {flops / ort_s / 1e9:20.1f} "
              f"{numpy_s / mine * 100:8.0f}%")
    try:
        from threadpoolctl import threadpool_info
        print("\nnumpy BLAS:", ", ".join(f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
                                         f"{i.get('num_threads')} thread)" for i in threadpool_info()))
    except ImportError:
        pass


if __name__ == "__main__":
    sys.exit(main())
