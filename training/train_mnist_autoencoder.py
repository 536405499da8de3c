"""Train models/mnist-autoencoder: a convolutional autoencoder for digits, usable as an
anomaly detector (high reconstruction error = "not a digit").

    python training/train_mnist_autoencoder.py    # ~5 minutes on one CPU thread

Data: the same 4,000/1,000 MNIST split as mnist-cnn (held-out digits never trained on).
Writes models/mnist-autoencoder/1/{model.onnx,encoder.onnx,decoder.onnx}, config.json,
metrics.json and fixtures in Tests/Fixtures/models/mnist-autoencoder/.
"""
from __future__ import annotations

import argparse
import time

import common  # noqa: F401  (one thread)
from common import (FIXTURES, MODELS, augment, export_onnx, mnist_split, ort_run, save_npy,
                    seed_everything, sklearn_digits_28, update_json, write_json)

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

NAME = "mnist-autoencoder"
SEED = 3
LATENT = 16


class Encoder(nn.Module):
    def __init__(self, latent=LATENT):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),     # 32x14x14
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),    # 64x7x7
            nn.Flatten(), nn.Linear(64 * 7 * 7, latent),
        )

    def forward(self, image):
        return self.net(image)


class Decoder(nn.Module):
    def __init__(self, latent=LATENT):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(latent, 64 * 7 * 7), nn.ReLU())
        self.net = nn.Sequential(
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),   # 32x14x14
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Sigmoid(),  # 1x28x28
        )

    def forward(self, latent):
        return self.net(self.fc(latent).reshape(-1, 64, 7, 7))


class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = Encoder(), Decoder()

    def forward(self, image):
        z = self.encoder(image)
        return self.decoder(z), z


def mse_per_image(model, x: np.ndarray | torch.Tensor, bs=500) -> np.ndarray:
    x = torch.as_tensor(x, dtype=torch.float32)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), bs):
            r, _ = model(x[i:i + bs])
            out.append(((r - x[i:i + bs]) ** 2).mean(dim=(1, 2, 3)))
    return torch.cat(out).numpy()


# ----------------------------------------------------------------------------- non-digits

def photos_28(n_crops: int, rng: np.random.RandomState):
    """skimage's bundled photos as 28x28 grayscale 0..1: each whole photo, then random
    square crops (10-100% of the short side)."""
    from skimage import color, data

    names = ["camera", "astronaut", "coffee", "chelsea"]
    imgs = []
    for nm in names:
        im = getattr(data, nm)()
        if im.ndim == 3:
            im = (color.rgb2gray(im) * 255).astype(np.uint8)
        imgs.append(Image.fromarray(im))
    whole = np.stack([np.asarray(im.resize((28, 28), Image.BILINEAR), np.float32) / 255 for im in imgs])
    crops = []
    for k in range(n_crops):
        im = imgs[k % len(imgs)]
        w, h = im.size
        s = int(min(w, h) * rng.uniform(0.1, 1.0))
        x0, y0 = rng.randint(0, w - s + 1), rng.randint(0, h - s + 1)
        crops.append(np.asarray(im.crop((x0, y0, x0 + s, y0 + s)).resize((28, 28), Image.BILINEAR),
                                np.float32) / 255)
    return whole, np.stack(crops), names


def letters_28(rng: np.random.RandomState, variants: int = 4):
    """Capital letters A-Z drawn white on black with PIL's bundled font, scaled to a 20-pixel
    box and centred in 28x28 like MNIST digits; `variants` random slants/offsets each."""
    font = ImageFont.load_default(size=64)
    out, labels = [], []
    for ch in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        for v in range(variants):
            canvas = Image.new("L", (96, 96), 0)
            ImageDraw.Draw(canvas).text((48, 48), ch, fill=255, font=font, anchor="mm",
                                        stroke_width=int(rng.randint(2, 6)), stroke_fill=255)
            if v:
                canvas = canvas.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR)
            box = canvas.getbbox()
            glyph = canvas.crop(box)
            gw, gh = glyph.size
            sc = 20 / max(gw, gh)
            glyph = glyph.resize((max(1, round(gw * sc)), max(1, round(gh * sc))), Image.LANCZOS)
            frame = Image.new("L", (28, 28), 0)
            frame.paste(glyph, ((28 - glyph.size[0]) // 2 + int(rng.randint(-1, 2)),
                                (28 - glyph.size[1]) // 2 + int(rng.randint(-1, 2))))
            out.append(np.asarray(frame, np.float32) / 255)
            labels.append(ch)
    return np.stack(out), labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    args = ap.parse_args()
    seed_everything(SEED)
    t0 = time.time()

    x_tr, _, x_ho, y_ho = mnist_split()
    xt = torch.from_numpy(x_tr).float().div(255).unsqueeze(1)
    xh = torch.from_numpy(x_ho).float().div(255).unsqueeze(1)
    model = AutoEncoder()
    nparams = sum(p.numel() for p in model.parameters())
    print(f"train {len(xt)} digits, held-out {len(xh)}; latent {LATENT}; {nparams:,} parameters")
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    spe = (len(xt) + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=spe, pct_start=0.1)
    gen = torch.Generator().manual_seed(SEED)
    bar = tqdm(range(args.epochs), desc=NAME, unit="epoch")
    for _ in bar:
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        tot, n = 0.0, 0
        for i in range(0, len(xt), args.batch_size):
            xb = xt[perm[i:i + args.batch_size]]
            # half of each batch gently warped: more digit shapes, same "digit-ness"
            k = len(xb) // 2
            xb = torch.cat([augment(xb[:k], gen), xb[k:]])
            r, _ = model(xb)
            loss = F.binary_cross_entropy(r, xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot += F.mse_loss(r.detach(), xb).item() * len(xb)
            n += len(xb)
        model.eval()
        bar.set_postfix(train_mse=f"{tot / n:.4f}", heldout_mse=f"{mse_per_image(model, xh).mean():.4f}")
    train_s = time.time() - t0
    model.eval()

    # ---------------------------------------------------------------- export + parity
    out_dir = MODELS / NAME
    ref_in = xh[:8].contiguous()
    doc = "deepserve mnist-autoencoder: image [N,1,28,28] float32 in 0..1 (x/255, white digit on black)"
    d1, (rec_ref, lat_ref) = export_onnx(model, (ref_in,), out_dir / "1" / "model.onnx", ["image"],
                                         ["reconstruction", "latent"],
                                         {"image": {0: "batch"}, "reconstruction": {0: "batch"},
                                          "latent": {0: "batch"}},
                                         doc=doc + " -> reconstruction [N,1,28,28] in 0..1, latent [N,16]")
    d2, _ = export_onnx(model.encoder, (ref_in,), out_dir / "1" / "encoder.onnx", ["image"], ["latent"],
                        {"image": {0: "batch"}, "latent": {0: "batch"}}, doc=doc + " -> latent [N,16]")
    with torch.no_grad():
        z_ref = model.encoder(ref_in)
    d3, (dec_ref,) = export_onnx(model.decoder, (z_ref,), out_dir / "1" / "decoder.onnx", ["latent"], ["image"],
                                 {"latent": {0: "batch"}, "image": {0: "batch"}},
                                 doc="deepserve mnist-autoencoder decoder: latent [N,16] -> image [N,1,28,28] in 0..1")

    # ---------------------------------------------------------------- evaluation (onnxruntime)
    onnx_path = out_dir / "1" / "model.onnx"

    def ort_mse(x01: np.ndarray) -> np.ndarray:
        x = x01.reshape(-1, 1, 28, 28).astype(np.float32)
        r, _ = ort_run(onnx_path, {"image": x})
        return ((r - x) ** 2).mean(axis=(1, 2, 3))

    rng = np.random.RandomState(SEED)
    mse_tr = ort_mse(x_tr / 255.0)
    mse_ho = ort_mse(x_ho / 255.0)
    # the fixture digits (first 20 per class in held-out order) test the threshold; the other
    # 800 held-out digits calibrate it
    fixture_idx, per = [], {c: 0 for c in range(10)}
    for i, lab in enumerate(y_ho):
        if per[int(lab)] < 20:
            per[int(lab)] += 1
            fixture_idx.append(i)
    calib = np.setdiff1d(np.arange(len(y_ho)), fixture_idx)
    threshold = float(np.quantile(mse_ho[calib], 0.99))
    xd, _ = sklearn_digits_28()
    mse_sk = ort_mse(xd)
    noise = rng.uniform(0, 1, (200, 28, 28)).astype(np.float32)
    mse_noise = ort_mse(noise)
    whole, crops, photo_names = photos_28(200, rng)
    mse_whole, mse_crops = ort_mse(whole), ort_mse(crops)
    letters, letter_names = letters_28(rng)
    mse_letters = ort_mse(letters)
    blank = np.zeros((1, 28, 28), np.float32)

    def stats(m):
        return {"count": int(len(m)), "mean": float(m.mean()), "median": float(np.median(m)),
                "min": float(m.min()), "max": float(m.max()),
                "share_above_threshold": float((m > threshold).mean())}

    per_letter = {}
    for nm, m in zip(letter_names, mse_letters):
        per_letter.setdefault(nm, []).append(float(m))
    metrics = {
        "latent": LATENT, "parameters": nparams, "epochs": args.epochs, "train_seconds": round(train_s, 1),
        "suggested_threshold_mse": threshold,
        "threshold_rule": "99th percentile of the per-image MSE of the 800 held-out digits not in the test fixtures",
        "mse_train_digits": stats(mse_tr),
        "mse_heldout_digits": stats(mse_ho),
        "mse_heldout_fixture_200_digits": stats(mse_ho[fixture_idx]),
        "mse_sklearn_digits_28x28": stats(mse_sk),
        "mse_uniform_noise": stats(mse_noise),
        "mse_photos_whole": {nm: float(m) for nm, m in zip(photo_names, mse_whole)},
        "mse_photo_crops": stats(mse_crops),
        "mse_letters": stats(mse_letters),
        "mse_letters_mean_per_letter": {k: float(np.mean(v)) for k, v in per_letter.items()},
        "mse_blank_image": float(ort_mse(blank)[0]),
        "parity_max_abs_diff": max(d1, d2, d3), "torch": torch.__version__,
    }
    write_json(out_dir / "metrics.json", metrics)
    for k in ["mse_train_digits", "mse_heldout_digits", "mse_heldout_fixture_200_digits",
              "mse_sklearn_digits_28x28", "mse_uniform_noise", "mse_photo_crops", "mse_letters"]:
        s = metrics[k]
        print(f"{k:34s} mean {s['mean']:.4f}  median {s['median']:.4f}  min {s['min']:.4f}  "
              f"max {s['max']:.4f}  above threshold {s['share_above_threshold']:.3f}")
    print("whole photos:", {k: round(v, 4) for k, v in metrics["mse_photos_whole"].items()})
    print("letters (mean MSE):", {k: round(v, 4) for k, v in metrics["mse_letters_mean_per_letter"].items()})
    print(f"suggested anomaly threshold (MSE): {threshold:.4f}")

    write_json(out_dir / "config.json", {
        "name": NAME,
        "task": "reconstruction",
        "description": "Convolutional autoencoder for 28x28 digits; reconstruction MSE above the threshold "
                       "flags an input that is not a digit.",
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 1, 28, 28]}],
        "outputs": [{"name": "reconstruction", "dtype": "float32", "shape": [-1, 1, 28, 28]},
                    {"name": "latent", "dtype": "float32", "shape": [-1, LATENT]}],
        "preprocessing": {
            "width": 28, "height": 28, "channels": 1, "color": "grayscale", "layout": "NCHW",
            "resize": "bilinear", "scale": 1 / 255, "mean": [0.0], "std": [1.0],
            "polarity": "white-on-black", "invert": "auto",
        },
        "postprocessing": {"output": "reconstruction", "output_range": [0.0, 1.0], "to_pixels": "x*255"},
        "anomaly": {"metric": "mse", "threshold": round(threshold, 6),
                    "rule": metrics["threshold_rule"]},
        "components": {
            "encoder": {"file": "encoder.onnx",
                        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 1, 28, 28]}],
                        "outputs": [{"name": "latent", "dtype": "float32", "shape": [-1, LATENT]}]},
            "decoder": {"file": "decoder.onnx",
                        "inputs": [{"name": "latent", "dtype": "float32", "shape": [-1, LATENT]}],
                        "outputs": [{"name": "image", "dtype": "float32", "shape": [-1, 1, 28, 28]}]},
        },
        "batching": {"max_batch_size": 64, "max_queue_delay_microseconds": 2000},
    })

    # ---------------------------------------------------------------- fixtures
    fx = FIXTURES / NAME
    ref_np = ref_in.numpy().astype(np.float32)
    rec, lat = ort_run(onnx_path, {"image": ref_np})
    save_npy(fx, "input_image", ref_np)
    save_npy(fx, "output_reconstruction", rec.astype(np.float32))
    save_npy(fx, "output_latent", lat.astype(np.float32))
    (enc_lat,) = ort_run(out_dir / "1" / "encoder.onnx", {"image": ref_np})
    save_npy(fx, "encoder_output_latent", enc_lat.astype(np.float32))
    z_in = np.random.RandomState(7).randn(8, LATENT).astype(np.float32) * lat.std(0, keepdims=True) \
        + lat.mean(0, keepdims=True)
    z_in = z_in.astype(np.float32)
    (dec_out,) = ort_run(out_dir / "1" / "decoder.onnx", {"latent": z_in})
    save_npy(fx, "decoder_input_latent", z_in)
    save_npy(fx, "decoder_output_image", dec_out.astype(np.float32))
    # non-digits for the threshold test: the 4 whole photos, the upright glyph of 6 letters that
    # look like no digit (H K M N W X; letters such as O, I, S, Z, B are digit-like to this model and
    # are not flagged), 6 uniform-noise images
    pick = [letter_names.index(c) for c in "HKMNWX"]   # index of each letter's first (upright) variant
    nond = np.concatenate([whole, letters[pick], noise[:6]])[:, None].astype(np.float32)
    save_npy(fx, "nondigits_image", nond)
    nd_mse = ort_mse(nond)
    save_npy(fx, "nondigits_mse", nd_mse.astype(np.float32))
    if not (nd_mse > threshold).all():
        print("WARNING: a fixture non-digit is not above the threshold")
    update_json(out_dir / "metrics.json", fixture_nondigits="4 whole photos (camera, astronaut, coffee, "
                "chelsea), upright letters H K M N W X, 6 uniform noise",
                fixture_nondigits_mse=[float(v) for v in nd_mse])
    print("fixture non-digit MSE:", np.round(nd_mse, 4))
    # top row: 8 held-out digits, bottom row: their reconstructions (for the model card)
    sheet = np.concatenate([np.concatenate(list(ref_np[:, 0]), 1), np.concatenate(list(rec[:, 0]), 1)], 0)
    Image.fromarray((sheet * 255).astype(np.uint8)).resize((8 * 56, 112), Image.NEAREST).save(
        out_dir / "reconstructions.png", optimize=True)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
