#!/usr/bin/env python3
"""Turns the held-out digit PNGs in Tests/Fixtures/models/mnist-heldout/ into the arrays the Swift
engine tests read (the engine has no image decoder; the serving layer's will be tested on the PNGs):

    images.npy  float32 [200, 1, 28, 28], preprocessed exactly as models/mnist-cnn/config.json says
    labels.npy  int64   [200]

Usage: python training/export_heldout_arrays.py
"""
import csv
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDER = os.path.join(ROOT, "Tests/Fixtures/models/mnist-heldout")


def main():
    with open(os.path.join(ROOT, "models/mnist-cnn/config.json")) as f:
        pre = json.load(f)["preprocessing"]
    with open(os.path.join(FOLDER, "labels.csv")) as f:
        rows = list(csv.DictReader(f))
    images = []
    for row in rows:
        pixels = np.asarray(Image.open(os.path.join(FOLDER, row["file"])).convert("L"), dtype=np.float32)
        if pre.get("invert") is True:
            pixels = 255 - pixels
        x = pixels * pre["scale"]
        x = (x - pre["mean"][0]) / pre["std"][0]
        images.append(x[None, :, :])
    np.save(os.path.join(FOLDER, "images.npy"), np.stack(images).astype(np.float32))
    np.save(os.path.join(FOLDER, "labels.npy"), np.array([int(r["label"]) for r in rows], dtype=np.int64))
    print(f"wrote {len(rows)} images and labels to {FOLDER}")


if __name__ == "__main__":
    main()
