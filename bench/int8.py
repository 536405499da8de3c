#!/usr/bin/env python3
"""deepserve vs onnxruntime on int8 models, single thread, interleaved rounds, medians.

    swift build -c release --product deepserve && python3 bench/int8.py [--rounds 5] [--runs 200]

The models are the ones the onnxruntime comparison tests check for correctness
(scripts/generate-ort-comparison-cases.py): the small CNN (1×3×16×16) quantized static QDQ and
dynamic, and the 2-layer BERT-style encoder (hidden 64, 4 heads, sequence 16) float, dynamic
(DynamicQuantizeLinear + MatMulInteger) and static QDQ. Each round times onnxruntime then deepserve
(`deepserve bench --json`, same shapes, its own seeded inputs; timing does not depend on values),
and the table shows the median over rounds of each round's median.
"""
import argparse
import importlib.util
import os
import sys
import tempfile

os.environ["OMP_NUM_THREADS"] = "1"
import numpy as np  # noqa: E402
import onnx  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from compare import median_seconds, ort_session, ours  # noqa: E402


def generator():
    spec = importlib.util.spec_from_file_location("generate", os.path.join(ROOT, "scripts/generate-ort-comparison-cases.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_models(directory):
    """(name, path, batch) for every benchmarked model, written into `directory`."""
    g = generator()
    models = []
    for name, model, feeds, *_ in g.quantized_model_cases() + g.encoder_cases():
        if name.endswith("_unfused") or "onnx_reference" in name:
            continue   # same model as its fused sibling
        path = os.path.join(directory, name + ".onnx")
        onnx.save(model, path)
        first = next(iter(feeds[0].values()))
        models.append((name, path, first.shape[0]))
    return models


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/deepserve"))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--batch", type=int, action="append", help="encoder batch sizes (default 2 and 32)")
    args = parser.parse_args()
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name, path, batch in make_models(tmp):
            for b in ([batch] if "cnn" in name else (args.batch or [2, 32])):
                session = ort_session(path)
                feeds = {}
                for value in session.get_inputs():
                    shape = [d if isinstance(d, int) else b for d in value.shape]
                    if value.type == "tensor(int64)":
                        feeds[value.name] = rng.integers(0, 16, size=shape).astype(np.int64)
                    else:
                        feeds[value.name] = rng.random(shape, dtype=np.float32)
                rows.append((name, b, path, session, feeds))
        results = {(name, b): ([], []) for name, b, *_ in rows}
        for _ in range(args.rounds):   # interleaved: every model, both engines, each round
            for name, b, path, session, feeds in rows:
                runs = args.runs if b < 32 else max(20, args.runs // 5)
                results[(name, b)][0].append(median_seconds(lambda: session.run(None, feeds), runs, 10))
                results[(name, b)][1].append(ours(args.binary, path, b, runs, 10))
    print(f"onnxruntime {ort.__version__}, single thread, median of {args.rounds} interleaved rounds\n")
    print(f"{'model':40} {'batch':>5} {'deepserve ms':>13} {'onnxruntime ms':>15} {'ratio':>7}")
    for name, b, *_ in rows:
        theirs, mine = (float(np.median(v)) for v in results[(name, b)])
        print(f"{name:40} {b:5d} {mine * 1e3:13.3f} {theirs * 1e3:15.3f} {mine / theirs:6.2f}×")


if __name__ == "__main__":
    sys.exit(main())
