"""Train models/mnist-gan: a small DCGAN whose generator draws 28x28 digits from a latent.

    python training/train_mnist_gan.py            # ~15-20 minutes on one CPU thread

Generator: DCGAN (dense -> 7x7 -> two stride-2 transposed convolutions, BatchNorm, tanh); it is the
only part shipped. Critic (training only): spectrally normalised convolutions, hinge loss, and
DiffAugment (the same random small warps applied to real and generated digits before the critic),
which keeps a critic from memorising the 4,000 training digits. The shipped weights are an
exponential moving average of the generator's, with BatchNorm statistics re-estimated at the end.

Needs models/mnist-cnn/1/model.onnx (train_mnist_cnn.py) for its evaluation: the share of
1,000 samples the CNN classifies with confidence >= 0.9, and the spread of their classes.
Data: the 4,000 training digits of the shared split (the 1,000 held-out digits are not used).
"""
from __future__ import annotations

import argparse
import copy
import time

import common  # noqa: F401  (one thread)
from common import (CACHE, FIXTURES, MODELS, augment, export_onnx, mnist_split, normalize_mnist, ort_run,
                    save_npy, seed_everything, write_json)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

NAME = "mnist-gan"
SEED = 4
Z = 64


class Generator(nn.Module):
    def __init__(self, z=Z, ch=64):
        super().__init__()
        self.ch = ch
        self.fc = nn.Sequential(nn.Linear(z, ch * 2 * 7 * 7, bias=False), nn.BatchNorm1d(ch * 2 * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(ch * 2, ch, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),  # 14
            nn.ConvTranspose2d(ch, 1, 4, stride=2, padding=1), nn.Tanh(),                                       # 28
        )

    def forward(self, latent):
        return self.net(self.fc(latent).reshape(-1, self.ch * 2, 7, 7))


class Discriminator(nn.Module):
    """Spectrally normalised critic (training only; not exported)."""

    def __init__(self, ch=64):
        super().__init__()
        sn = nn.utils.spectral_norm
        self.net = nn.Sequential(
            sn(nn.Conv2d(1, ch, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),            # 14
            sn(nn.Conv2d(ch, ch * 2, 4, stride=2, padding=1)), nn.LeakyReLU(0.2),       # 7
            sn(nn.Conv2d(ch * 2, ch * 2, 3, stride=1, padding=1)), nn.LeakyReLU(0.2),   # 7
            nn.Flatten(), sn(nn.Linear(ch * 2 * 7 * 7, 1)),
        )

    def forward(self, x):
        return self.net(x).squeeze(1)


def diff_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """DiffAugment: the same kind of random small warp for real and generated images, applied
    (differentiably) before the critic, so the critic cannot memorise 4,000 digits and the
    generator does not learn the warps."""
    return augment((x + 1) / 2, gen) * 2 - 1


@torch.no_grad()
def recalibrate_bn(g: Generator, gen: torch.Generator, batches=50, bs=256):
    """Replace the BatchNorm running statistics (an EMA of training-time batches, lagging behind
    the weights) by exact averages over fresh latent batches of the final weights."""
    for m in g.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    g.train()
    for _ in range(batches):
        g(torch.randn(bs, Z, generator=gen))
    g.eval()


def cnn_confident_share(g: Generator, cnn_path, n=500) -> float:
    zs = np.random.RandomState(77).randn(n, Z).astype(np.float32)
    with torch.no_grad():
        imgs = g(torch.from_numpy(zs)).numpy()
    (lg,) = ort_run(cnn_path, {"image": normalize_mnist((imgs + 1) / 2).astype(np.float32)})
    p = np.exp(lg - lg.max(1, keepdims=True))
    return float(((p / p.sum(1, keepdims=True)).max(1) >= 0.9).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--ch", type=int, default=64)
    args = ap.parse_args()
    seed_everything(SEED)
    t0 = time.time()
    cnn_path = MODELS / "mnist-cnn" / "1" / "model.onnx"
    if not cnn_path.exists():
        raise SystemExit("run training/train_mnist_cnn.py first: the evaluation needs mnist-cnn")

    x_tr, _, _, _ = mnist_split()
    xt = torch.from_numpy(x_tr).float().div(255).unsqueeze(1)   # 0..1; fed to D as [-1, 1]
    g, d = Generator(ch=args.ch), Discriminator(ch=args.ch)
    g_ema = copy.deepcopy(g).eval()
    print(f"generator {sum(p.numel() for p in g.parameters()):,} parameters, "
          f"discriminator {sum(p.numel() for p in d.parameters()):,}")
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(SEED)
    bs = args.batch_size
    perm, pos = torch.randperm(len(xt), generator=gen), 0
    bar = tqdm(range(args.steps), desc=NAME, unit="step", mininterval=2)
    for step in bar:
        if pos + bs > len(xt):
            perm, pos = torch.randperm(len(xt), generator=gen), 0
        real = xt[perm[pos:pos + bs]] * 2 - 1
        pos += bs
        z = torch.randn(bs, Z, generator=gen)
        fake = g(z)
        # critic: hinge loss on augmented real and generated digits
        d_real, d_fake = d(diff_augment(real, gen)), d(diff_augment(fake.detach(), gen))
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator
        loss_g = -d(diff_augment(fake, gen)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        with torch.no_grad():   # exponential moving average of the generator weights
            decay = min(0.999, (1 + step) / (10 + step))
            for pe, p in zip(g_ema.parameters(), g.parameters()):
                pe.mul_(decay).add_(p, alpha=1 - decay)
        if step % 20 == 0:
            bar.set_postfix(loss_d=f"{loss_d.item():.3f}", loss_g=f"{loss_g.item():.3f}")
        if (step + 1) % 1000 == 0:   # progress only: nothing is selected by it
            probe = copy.deepcopy(g_ema)
            recalibrate_bn(probe, torch.Generator().manual_seed(99), batches=10)
            tqdm.write(f"step {step + 1}: mnist-cnn confident share {cnn_confident_share(probe, cnn_path):.3f}")
    train_s = time.time() - t0

    recalibrate_bn(g_ema, torch.Generator().manual_seed(SEED + 1))
    CACHE.mkdir(parents=True, exist_ok=True)
    torch.save({"g": g.state_dict(), "g_ema": g_ema.state_dict(), "d": d.state_dict()}, CACHE / "gan_checkpoint.pt")

    # ---------------------------------------------------------------- export + parity
    out_dir = MODELS / NAME
    onnx_path = out_dir / "1" / "model.onnx"
    ref_z = torch.randn(8, Z, generator=torch.Generator().manual_seed(123))
    diff, _ = export_onnx(g_ema, (ref_z,), onnx_path, ["latent"], ["image"],
                          {"latent": {0: "batch"}, "image": {0: "batch"}},
                          doc=f"deepserve mnist-gan generator: latent [N,{Z}] float32 ~ N(0,1) -> "
                              "image [N,1,28,28] in [-1,1] (pixel = (x+1)/2*255, white digit on black)")

    # ---------------------------------------------------------------- evaluation
    zs = np.random.RandomState(2024).randn(1000, Z).astype(np.float32)
    (imgs,) = ort_run(onnx_path, {"latent": zs})
    (logits,) = ort_run(cnn_path, {"image": normalize_mnist((imgs + 1) / 2).astype(np.float32)})
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    conf, cls = p.max(1), p.argmax(1)
    confident = conf >= 0.9
    spread = np.bincount(cls, minlength=10)
    spread_conf = np.bincount(cls[confident], minlength=10)
    # real held-out digits through the same yardstick, for comparison
    _, _, x_ho, _ = mnist_split()
    (lr,) = ort_run(cnn_path, {"image": normalize_mnist(x_ho[:, None] / 255.0).astype(np.float32)})
    pr = np.exp(lr - lr.max(1, keepdims=True))
    pr /= pr.sum(1, keepdims=True)
    real_conf = float((pr.max(1) >= 0.9).mean())
    # diversity: mean pixel std over samples, and mean pairwise L2 distance on 200 samples
    flat = imgs[:200].reshape(200, -1)
    pair = np.sqrt(((flat[:, None] - flat[None]) ** 2).sum(-1))
    metrics = {
        "latent": Z, "samples": 1000, "latent_seed": 2024, "steps": args.steps, "batch_size": bs,
        "train_seconds": round(train_s, 1),
        "share_confidence_ge_0.9": float(confident.mean()),
        "class_counts_all": spread.tolist(),
        "class_counts_confident": spread_conf.tolist(),
        "min_class_share": float(spread.min() / 1000), "max_class_share": float(spread.max() / 1000),
        "mean_confidence": float(conf.mean()),
        "real_heldout_share_confidence_ge_0.9": real_conf,
        "output_min": float(imgs.min()), "output_max": float(imgs.max()),
        "mean_pairwise_l2_200": float(pair[np.triu_indices(200, 1)].mean()),
        "parity_max_abs_diff": diff, "torch": torch.__version__,
    }
    write_json(out_dir / "metrics.json", metrics)
    print(f"share of 1,000 samples with mnist-cnn confidence >= 0.9: {confident.mean():.3f} "
          f"(real held-out digits: {real_conf:.3f})")
    print(f"class counts (argmax, all 1,000): {spread.tolist()}")
    print(f"class counts (confident only):     {spread_conf.tolist()}")

    write_json(out_dir / "config.json", {
        "name": NAME,
        "task": "image-generation",
        "description": "DCGAN generator: draws a 28x28 handwritten-looking digit from a latent vector.",
        "inputs": [{"name": "latent", "dtype": "float32", "shape": [-1, Z]}],
        "outputs": [{"name": "image", "dtype": "float32", "shape": [-1, 1, 28, 28]}],
        "latent": {"input": "latent", "dim": Z, "distribution": "normal", "mean": 0.0, "std": 1.0},
        "postprocessing": {"output": "image", "output_range": [-1.0, 1.0], "to_pixels": "(x+1)*127.5",
                           "width": 28, "height": 28, "channels": 1, "polarity": "white-on-black"},
        "batching": {"max_batch_size": 64, "max_queue_delay_microseconds": 2000},
    })

    # ---------------------------------------------------------------- fixtures
    fx = FIXTURES / NAME
    (ref_out,) = ort_run(onnx_path, {"latent": ref_z.numpy()})
    save_npy(fx, "input_latent", ref_z.numpy().astype(np.float32))
    save_npy(fx, "output_image", ref_out.astype(np.float32))
    grid = imgs[:64, 0].reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(224, 224)
    # the first 64 of the 1,000 evaluation samples, for the model card
    Image.fromarray(((grid + 1) * 127.5).clip(0, 255).astype(np.uint8)).resize((448, 448), Image.NEAREST) \
        .save(out_dir / "samples.png", optimize=True)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
