#!/usr/bin/env python3
"""Engine vs onnxruntime, and our GEMM vs numpy, single-threaded, in one run.

    bench/run.sh            # builds the release binary and the benchmark models, then runs this

Both sides get identical inputs (written to .npy and passed to `deepserve bench --input`), with each model's
symbolic dimensions at the sizes its family really runs (a batch of 1 or 32; 32 time steps or tokens for sequence
models). The runs interleave — a round of deepserve, a round of onnxruntime, then the other way round — so a noisy
neighbour hurts both alike. Prints medians and minima (lower ms / higher GFLOP/s is better) and the ratio of the
medians; the machine is shared and noisy, so compare figures from the same run only.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
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


def ort_session(path, threads=1):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


SEQUENCE_WORDS = ("time", "seq", "sequence", "length", "token")


def size_of(dimension, batch):
    """A symbolic dimension's size: `batch` for a batch, 32 for a sequence dimension."""
    if isinstance(dimension, int):
        return dimension
    return 32 if any(word in str(dimension).lower() for word in SEQUENCE_WORDS) else batch


def feeds_for(session, batch, rng):
    feeds = {}
    for value in session.get_inputs():
        shape = [size_of(d, batch) for d in value.shape]
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


def ours(binary, path, batch, runs, warmup, inputs=None, threads=1):
    """(median, min) seconds of `deepserve bench`, on the .npy inputs given (else its own at --batch)."""
    command = [binary, "bench", path, "--batch", str(batch), "--runs", str(runs), "--warmup", str(warmup), "--json",
               "--intra-op-threads", str(threads)]
    for name, file in (inputs or {}).items():
        command += ["--input", f"{name}={file}"]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return result["median_ms"] / 1000, result["min_ms"] / 1000


ARCHITECTURES = os.path.join(ROOT, "bench/.models/architectures")


def architectures():
    """The real architectures bench/export_architectures.py wrote: (path, manifest) pairs."""
    found = []
    for manifest_path in sorted(glob.glob(os.path.join(ARCHITECTURES, "*.json"))):
        with open(manifest_path) as f:
            manifest = json.load(f)
        path = os.path.join(ARCHITECTURES, manifest["file"])
        if os.path.exists(path):
            found.append((path, manifest))
    return found


def manifest_feeds(session, shapes, rng):
    """Inputs at the manifest's shapes: token ids below 90 (every vocabulary here is larger), else uniform [0, 1)."""
    feeds = {}
    for value in session.get_inputs():
        shape = shapes[value.name]
        if "int" in value.type:
            dtype = np.int32 if value.type == "tensor(int32)" else np.int64
            feeds[value.name] = rng.integers(0, 90, size=shape).astype(dtype)
        else:
            feeds[value.name] = rng.random(shape, dtype=np.float32)
    return feeds


def agreement(binary, path, session, feeds):
    """The largest difference between deepserve's and onnxruntime's outputs on `feeds`, relative to the largest
    magnitude of onnxruntime's output (per output; the worst output's)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [binary, "run", path, "--output-dir", folder]
        for index, (name, array) in enumerate(feeds.items()):
            file = os.path.join(folder, f"input{index}.npy")
            np.save(file, array)
            command += ["--input", f"{name}={file}"]
        subprocess.run(command, check=True, capture_output=True)
        worst = 0.0
        for output, reference in zip(session.get_outputs(), session.run(None, feeds)):
            # `deepserve run` names each file after its output, with anything but letters, digits, _ - . as _.
            file_name = "".join(c if c.isalnum() or c in "_-." else "_" for c in output.name)
            mine = np.load(os.path.join(folder, f"{file_name}.npy"))
            scale = max(float(np.max(np.abs(reference))), 1e-30)
            worst = max(worst, float(np.max(np.abs(mine.astype(np.float64) - reference))) / scale)
        return worst


def interleaved(binary, path, session, feeds, runs, rounds=4, threads=1):
    """Both sides in alternating rounds on the same inputs: (ours median, ours min, theirs median, theirs min)."""
    with tempfile.TemporaryDirectory() as folder:
        files = {}
        for index, (name, array) in enumerate(feeds.items()):
            files[name] = os.path.join(folder, f"input{index}.npy")
            np.save(files[name], array)
        mine, theirs = [], []
        warmup = max(2, runs // 10)
        for round_ in range(rounds):
            def reference():
                for _ in range(warmup):
                    session.run(None, feeds)
                for _ in range(runs):
                    start = time.perf_counter()
                    session.run(None, feeds)
                    theirs.append(time.perf_counter() - start)
            def engine():
                median, minimum = ours(binary, path, 1, runs, warmup, files, threads)
                mine.append((median, minimum))
            for side in ((engine, reference) if round_ % 2 == 0 else (reference, engine)):
                side()
    return (float(np.median([m for m, _ in mine])), min(m for _, m in mine), float(np.median(theirs)), min(theirs))


def compare_models(args, cases, threads):
    """Every case at every batch size, both sides on `threads` intra-op threads."""
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}, {threads} intra-op thread(s) on both sides; "
          "identical inputs, interleaved rounds; max |Δ| relative to the largest output magnitude\n")
    print(f"{'model':44} {'batch':>5} {'deepserve ms (min)':>19} {'onnxruntime ms (min)':>21} {'ratio':>7}  {'max |Δ|':>8}")
    for path, label, make_feeds in cases:
        if args.only and not any(word in label for word in args.only):
            continue
        session = ort_session(path, threads)
        for batch in args.batches:
            feeds = make_feeds(session, batch)
            if feeds is None:
                continue
            # About a second of work per side and round, whatever the model's size.
            probe = time.perf_counter()
            session.run(None, feeds)
            once = time.perf_counter() - probe
            runs = max(2, min(args.runs if batch == 1 else max(5, args.runs // 5), int(1.0 / max(once, 1e-6))))
            mine, mine_min, reference, reference_min = interleaved(args.binary, path, session, feeds, runs, threads=threads)
            difference = agreement(args.binary, path, session, feeds)
            shape = "×".join(str(d) for d in next(iter(feeds.values())).shape)
            print(f"{label:44} {batch:5d} {mine * 1e3:10.3f} ({mine_min * 1e3:7.3f}) {reference * 1e3:12.3f} ({reference_min * 1e3:7.3f}) "
                  f"{mine / reference:6.2f}×  {difference:8.1e}   {shape}", flush=True)
    print()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/deepserve"))
    parser.add_argument("--runs", type=int, default=2000,
                        help="most timed runs per side and round at batch 1 (each round is about a second of work)")
    parser.add_argument("--only", action="append", help="only models whose name contains this (repeatable)")
    parser.add_argument("--batches", type=lambda text: [int(b) for b in text.split(",")], default=[1, 32])
    parser.add_argument("--no-gemm", action="store_true", help="skip the GEMM comparison")
    parser.add_argument("--intra-op-threads", type=lambda text: [int(t) for t in text.split(",")], default=[1],
                        help="threads one run may use, on both sides (onnxruntime's intra_op_num_threads); "
                             "a list (1,2) runs every model at each")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    # (path, label, feeds for a batch size or None when the model has no shapes at that size)
    cases = []
    for path in sorted(glob.glob(os.path.join(ROOT, "models/*/1/*.onnx"))):
        cases.append((path, os.path.relpath(path, ROOT), lambda session, batch: feeds_for(session, batch, rng)))
    resnet = os.path.join(ROOT, "bench/.models/resnet18.onnx")
    if os.path.exists(resnet):
        cases.append((resnet, "bench/.models/resnet18.onnx", lambda session, batch: feeds_for(session, batch, rng)))
    for path, manifest in architectures():
        shapes = manifest["inputs"]
        cases.append((path, os.path.splitext(manifest["file"])[0],
                      lambda session, batch, shapes=shapes: manifest_feeds(session, shapes[str(batch)], rng) if str(batch) in shapes else None))

    for threads in args.intra_op_threads:
        compare_models(args, cases, threads)

    if args.no_gemm:
        return
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
        mine, _ = ours(args.binary, path, 1, runs, 3)
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
