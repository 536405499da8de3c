"""A Keras CNN as users bring them: trained on scikit-learn's bundled 8x8 digits (upscaled to 32x32 RGB, so it has
the NHWC colour input of a typical Keras image model), ending in `softmax`, exported with tf2onnx *without*
`--inputs-as-nchw`. The result is a test fixture (Tests/Fixtures/user-models/keras-digits), served by deepserve with a
config.json that says nothing about layout or activation: both are read from the graph.

Needs tensorflow-cpu, tf2onnx, scikit-learn, pillow (not part of the test requirements: the export is committed).
    python training/export_keras_digits.py
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

OUT = Path(__file__).resolve().parent.parent / "Tests/Fixtures/user-models/keras-digits"
tf.keras.utils.set_random_seed(7)


def upscale(images):
    """8x8 digits (0..16) → 32x32 RGB uint8: white ink on black, bilinear, as a photo of a glowing digit."""
    out = []
    for image in images:
        gray = Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((32, 32), Image.BILINEAR)
        out.append(np.stack([np.asarray(gray)] * 3, axis=-1))
    return np.stack(out)


def main():
    digits = load_digits()
    x = upscale(digits.images)
    y = digits.target
    order = np.random.default_rng(7).permutation(len(x))
    train, test = order[:1500], order[1500:]
    model = tf.keras.Sequential([
        tf.keras.Input((32, 32, 3), name="image"),
        tf.keras.layers.Rescaling(1 / 255),
        tf.keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        tf.keras.layers.MaxPooling2D(),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(64, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax", name="probabilities"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[train].astype(np.float32), y[train], epochs=8, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x[test].astype(np.float32), y[test], verbose=0)
    print(f"held-out accuracy: {accuracy:.3f} on {len(test)} digits")

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "1").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        saved = os.path.join(folder, "saved")
        model.export(saved)
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", saved, "--output",
                        str(OUT / "1/model.onnx"), "--opset", "17"], check=True)
    (OUT / "config.json").write_text(json.dumps({
        "name": "keras-digits",
        "task": "image-classification",
        "description": "Keras CNN on scikit-learn's digits, exported by tf2onnx (NHWC input, softmax-ended).",
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 32, 32, 3]}],
        # Keras's SavedModel export names the output output_0, whatever the layer is called.
        "outputs": [{"name": "output_0", "dtype": "float32", "shape": [-1, 10]}],
        "preprocessing": {"width": 32, "height": 32, "channels": 3, "scale": 1.0},
        "labels_file": "labels.txt",
    }, indent=2) + "\n")
    (OUT / "labels.txt").write_text("".join(f"{d}\n" for d in range(10)))
    # A few held-out digits as PNGs, for the serving test and the walkthrough.
    # digits.npy holds the same pixels in file-name order, so a reference run needs no PNG decoder.
    for index in test[:4]:
        Image.fromarray(x[index]).save(OUT / f"digit-{y[index]}.png")
    pngs = sorted(OUT.glob("digit-*.png"))
    np.save(OUT / "digits.npy", np.stack([np.asarray(Image.open(png).convert("RGB")) for png in pngs]))
    (OUT / "metrics.json").write_text(json.dumps({"held_out_accuracy": round(float(accuracy), 4), "held_out": len(test)}) + "\n")


if __name__ == "__main__":
    main()
