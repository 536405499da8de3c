"""Check models/: every config.json against its ONNX graphs (names, dtypes, ranks, fixed dims),
the op list the Swift engine implements, the referenced label/vocab files, and the size budget.

    python training/check_models.py      # seconds; needs onnx only (no torch)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import onnx

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
BUDGET_BYTES = 20 * 1000 * 1000
TASKS = {"image-classification", "text-generation", "reconstruction", "image-generation"}
DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}
ALLOWED_OPS = set("""
Conv ConvTranspose Gemm MatMul Add Sub Mul Div Relu LeakyRelu Sigmoid Tanh Softmax LogSoftmax
MaxPool AveragePool GlobalAveragePool BatchNormalization Dropout Flatten Reshape Transpose Squeeze
Unsqueeze Concat Split Slice Gather Shape Constant ConstantOfShape Identity Cast Clip Pad Resize
ReduceMean Exp Log Sqrt Pow Erf LSTM GRU RNN
""".split())


def check_graph(path: Path, inputs, outputs, errors: list[str]):
    m = onnx.load(str(path))
    onnx.checker.check_model(m)
    ops = {n.op_type for n in m.graph.node}
    if ops - ALLOWED_OPS:
        errors.append(f"{path}: ops outside the engine's list: {sorted(ops - ALLOWED_OPS)}")
    init = {i.name for i in m.graph.initializer}
    real_inputs = [i for i in m.graph.input if i.name not in init]
    for kind, specs, values in (("input", inputs, real_inputs), ("output", outputs, list(m.graph.output))):
        if [s["name"] for s in specs] != [v.name for v in values]:
            errors.append(f"{path}: {kind} names {[v.name for v in values]} != config {[s['name'] for s in specs]}")
            continue
        for s, v in zip(specs, values):
            tt = v.type.tensor_type
            if DTYPES.get(tt.elem_type) != s["dtype"]:
                errors.append(f"{path}: {v.name} dtype {tt.elem_type} != {s['dtype']}")
            dims = [d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim]
            if dims != s["shape"]:
                errors.append(f"{path}: {v.name} shape {dims} != config {s['shape']}")
    return ops


def main() -> int:
    errors: list[str] = []
    total = sum(f.stat().st_size for f in MODELS.rglob("*") if f.is_file())
    for cfg_path in sorted(MODELS.glob("*/config.json")):
        folder = cfg_path.parent
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("name") != folder.name:
            errors.append(f"{cfg_path}: name {cfg.get('name')!r} != folder {folder.name!r}")
        if cfg.get("task") not in TASKS:
            errors.append(f"{cfg_path}: unknown task {cfg.get('task')!r}")
        versions = sorted(int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
        if not versions:
            errors.append(f"{folder}: no version folder")
            continue
        vdir = folder / str(cfg.get("version", versions[-1]))
        ops = check_graph(vdir / "model.onnx", cfg["inputs"], cfg["outputs"], errors)
        for name, comp in cfg.get("components", {}).items():
            ops |= check_graph(vdir / comp["file"], comp["inputs"], comp["outputs"], errors)
        for key in ("labels_file", "vocab_file"):
            if key in cfg and not (folder / cfg[key]).is_file():
                errors.append(f"{cfg_path}: {key} {cfg[key]} missing")
        if not (folder / "MODEL_CARD.md").is_file():
            errors.append(f"{folder}: MODEL_CARD.md missing")
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"{folder.name:20s} {cfg['task']:22s} v{vdir.name}  {size / 1e6:5.2f} MB  ops: {', '.join(sorted(ops))}")
    print(f"total models/: {total / 1e6:.2f} MB (budget {BUDGET_BYTES / 1e6:.0f} MB)")
    if total > BUDGET_BYTES:
        errors.append("models/ is over its size budget")
    for e in errors:
        print("ERROR:", e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
