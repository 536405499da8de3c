"""A Keras convolutional autoencoder as users bring them: trained on scikit-learn's bundled 8x8 digits (upscaled to
28x28 grayscale, white on black), NHWC in and out, exported with tf2onnx without `--inputs-as-nchw`. A test fixture
(Tests/Fixtures/user-models/keras-autoencoder) served through `reconstruct` with nothing about layout in its config.

Needs tensorflow-cpu, tf2onnx, scikit-learn, pillow (not part of the test requirements: the export is committed).
    python training/export_keras_autoencoder.py
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from sklearn.datasets import load_digits

OUT = Path(__file__).resolve().parent.parent / "Tests/Fixtures/user-models/keras-autoencoder"
tf.keras.utils.set_random_seed(7)


def main():
    digits = load_digits()
    x = np.stack([np.asarray(Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((28, 28), Image.BILINEAR))
                  for image in digits.images])[..., None].astype(np.float32) / 255
    order = np.random.default_rng(7).permutation(len(x))
    train, test = order[:1500], order[1500:]
    model = tf.keras.Sequential([
        tf.keras.Input((28, 28, 1), name="image"),
        tf.keras.layers.Conv2D(16, 3, strides=2, activation="relu", padding="same"),
        tf.keras.layers.Conv2D(32, 3, strides=2, activation="relu", padding="same"),
        tf.keras.layers.Conv2DTranspose(16, 3, strides=2, activation="relu", padding="same"),
        tf.keras.layers.Conv2DTranspose(1, 3, strides=2, activation="sigmoid", padding="same"),
    ])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x[train], x[train], epochs=10, batch_size=32, verbose=0)
    loss = model.evaluate(x[test], x[test], verbose=0)
    print(f"held-out reconstruction MSE: {loss:.5f} on {len(test)} digits")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "1").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        saved = os.path.join(folder, "saved")
        model.export(saved)
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved, "--output",
                        str(OUT / "1/model.onnx"), "--opset", "17"], check=True)
    (OUT / "config.json").write_text(json.dumps({
        "name": "keras-autoencoder",
        "task": "reconstruction",
        "description": "Keras convolutional autoencoder on scikit-learn's digits, exported by tf2onnx (NHWC in and out).",
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 28, 28, 1]}],
        # Keras's SavedModel export names the output output_0.
        "outputs": [{"name": "output_0", "dtype": "float32", "shape": [-1, 28, 28, 1]}],
        "preprocessing": {"width": 28, "height": 28, "channels": 1, "scale": 1 / 255},
    }, indent=2) + "\n")
    # Two held-out digits as PNGs and the same pixels as .npy (file-name order) for a reference run without PIL.
    for index in test[:2]:
        Image.fromarray((x[index, ..., 0] * 255).round().astype(np.uint8)).save(OUT / f"digit-{digits.target[index]}.png")
    pngs = sorted(OUT.glob("digit-*.png"))
    np.save(OUT / "digits.npy", np.stack([np.asarray(Image.open(png)) for png in pngs])[..., None])
    (OUT / "metrics.json").write_text(json.dumps({"held_out_mse": round(float(loss), 6), "held_out": len(test)}) + "\n")


if __name__ == "__main__":
    main()
