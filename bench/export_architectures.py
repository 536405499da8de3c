#!/usr/bin/env python3
"""Real architectures for bench/compare.py, written to bench/.models/architectures/ (git-ignored).

Each model is an ONNX file plus NAME.json saying its input shapes at batch 1 and 32, so both engines are timed on
the same inputs. Two sources, neither downloaded at serving time and neither committed:

- PaddleOCR's PP-OCRv4 text detector and recogniser and the v2 direction classifier: trained networks built from
  depthwise-separable blocks, as shipped inside the `rapidocr-onnxruntime` wheel from PyPI (unpacked, not installed);
- Keras applications and a BERT-style encoder exported with tf2onnx the way users export them (NHWC input, no
  `--inputs-as-nchw`, opset 17). Keras ships no weights offline, so these are the real architectures with seeded
  random weights: the same graph and the same arithmetic as the trained ones, which is what a speed comparison needs.
  They need tensorflow-cpu and tf2onnx, which bench/run.sh installs in a separate environment (bench/.venv-export).

    python bench/export_architectures.py paddle    # any Python with pip
    python bench/export_architectures.py keras     # inside bench/.venv-export
"""
import json
import os
import subprocess
import sys
import tempfile
import zipfile

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".models", "architectures")
RAPIDOCR = "rapidocr-onnxruntime==1.4.4"

# name → (file inside the wheel, input name, shape at batch 1 and at batch 32). The detector runs at 640×640 alone
# and 320×320 in a batch of 32 (a batch of crops), the recogniser on 48×320 text lines, the classifier on 48×192.
PADDLE = {
    "ppocrv4-det": ("ch_PP-OCRv4_det_infer.onnx", "x", [1, 3, 640, 640], [32, 3, 320, 320]),
    "ppocrv4-rec": ("ch_PP-OCRv4_rec_infer.onnx", "x", [1, 3, 48, 320], [32, 3, 48, 320]),
    "ppocr-cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", [1, 3, 48, 192], [32, 3, 48, 192]),
}


def write_manifest(name, family, inputs_b1, inputs_b32, source):
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump({"file": f"{name}.onnx", "family": family, "source": source,
                   "inputs": {"1": inputs_b1, "32": inputs_b32}}, f, indent=1)


def paddle():
    missing = [name for name in PADDLE if not os.path.exists(os.path.join(OUT, f"{name}.onnx"))]
    if not missing:
        return
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--disable-pip-version-check",
                        "-d", folder, RAPIDOCR], check=True)
        wheel = next(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".whl"))
        with zipfile.ZipFile(wheel) as archive:
            for name in missing:
                member, input_name, b1, b32 = PADDLE[name]
                with archive.open(f"rapidocr_onnxruntime/models/{member}") as source, \
                        open(os.path.join(OUT, f"{name}.onnx"), "wb") as target:
                    target.write(source.read())
                write_manifest(name, "depthwise-separable (PaddleOCR, trained)", {input_name: b1}, {input_name: b32},
                               f"{RAPIDOCR} wheel: {member}")
                print(f"{name}: from the {RAPIDOCR} wheel")


def keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx
    from tensorflow import keras as k

    def exact_gelu(v):
        # BERT's GELU written out with erf: tf2onnx has no converter for the Erfc that Keras' own "gelu" uses.
        return 0.5 * v * (1.0 + tf.math.erf(v * 0.7071067811865476))

    def bert(layers=4, hidden=256, heads=4, vocab=8000, sequence=128):
        tokens = k.Input((sequence,), dtype="int32", name="tokens")
        x = k.layers.Embedding(vocab, hidden)(tokens)
        x = k.layers.LayerNormalization(epsilon=1e-12)(x + k.layers.Embedding(sequence, hidden)(tf.range(sequence)[None, :]))
        for _ in range(layers):
            x = k.layers.LayerNormalization(epsilon=1e-12)(x + k.layers.MultiHeadAttention(heads, hidden // heads)(x, x))
            feed = k.layers.Dense(hidden)(k.layers.Dense(hidden * 4, activation=exact_gelu)(x))
            x = k.layers.LayerNormalization(epsilon=1e-12)(x + feed)
        return k.Model(tokens, k.layers.Dense(2)(k.layers.Dense(hidden, activation="tanh")(x[:, 0])))

    def lstm(sequence=32):
        tokens = k.Input((sequence,), dtype="int32", name="tokens")
        x = k.layers.Embedding(96, 64)(tokens)
        x = k.layers.LSTM(256, return_sequences=True)(x)
        return k.Model(tokens, k.layers.Dense(96)(k.layers.LSTM(256, return_sequences=True)(x)))

    def resnet18():
        # He et al.'s ResNet-18 (basic blocks, [2, 2, 2, 2], 64…512 channels), as torchvision builds it; Keras has none.
        def block(x, channels, stride):
            shortcut = x
            y = k.layers.Conv2D(channels, 3, stride, padding="same", use_bias=False)(x)
            y = k.layers.ReLU()(k.layers.BatchNormalization()(y))
            y = k.layers.BatchNormalization()(k.layers.Conv2D(channels, 3, padding="same", use_bias=False)(y))
            if stride != 1 or x.shape[-1] != channels:
                shortcut = k.layers.BatchNormalization()(k.layers.Conv2D(channels, 1, stride, use_bias=False)(x))
            return k.layers.ReLU()(y + shortcut)

        inputs = k.Input((224, 224, 3), name="input")
        x = k.layers.ZeroPadding2D(3)(inputs)
        x = k.layers.ReLU()(k.layers.BatchNormalization()(k.layers.Conv2D(64, 7, 2, use_bias=False)(x)))
        x = k.layers.MaxPooling2D(3, 2, padding="same")(x)
        for stage, channels in enumerate([64, 128, 256, 512]):
            x = block(x, channels, 1 if stage == 0 else 2)
            x = block(x, channels, 1)
        x = k.layers.GlobalAveragePooling2D()(x)
        return k.Model(inputs, k.layers.Dense(1000, activation="softmax")(x))

    image = lambda: (tf.TensorSpec((None, 224, 224, 3), tf.float32, name="input"),)  # noqa: E731
    nhwc = ({"input": [1, 224, 224, 3]}, {"input": [32, 224, 224, 3]})
    models = {
        "keras-mobilenetv2": ("depthwise-separable", lambda: k.applications.MobileNetV2(weights=None), image, nhwc),
        # tf2onnx 1.17's transpose optimiser fails on this graph (a scalar Add in hard_swish) and leaves ~100
        # NHWC↔NCHW Transposes in it; that is the file a user gets, so it is benchmarked as exported.
        "keras-mobilenetv3small": ("depthwise-separable", lambda: k.applications.MobileNetV3Small(weights=None), image, nhwc),
        "keras-efficientnetb0": ("depthwise-separable", lambda: k.applications.EfficientNetB0(weights=None), image, nhwc),
        "keras-resnet18": ("residual CNN", resnet18, image, nhwc),
        "keras-resnet50": ("residual CNN", lambda: k.applications.ResNet50(weights=None), image, nhwc),
        "keras-densenet121": ("dense CNN", lambda: k.applications.DenseNet121(weights=None), image, nhwc),
        "keras-bert": ("transformer encoder", bert, lambda: (tf.TensorSpec((None, 128), tf.int32, name="tokens"),),
                       ({"tokens": [1, 128]}, {"tokens": [32, 128]})),
        "keras-lstm": ("recurrent", lstm, lambda: (tf.TensorSpec((None, 32), tf.int32, name="tokens"),),
                       ({"tokens": [1, 32]}, {"tokens": [32, 32]})),
    }
    for name, (family, build, signature, (b1, b32)) in models.items():
        path = os.path.join(OUT, f"{name}.onnx")
        if os.path.exists(path):
            continue
        tf.keras.utils.set_random_seed(0)
        tf2onnx.convert.from_keras(build(), input_signature=signature(), opset=17, output_path=path)
        write_manifest(name, f"{family} (Keras {k.__version__}, tf2onnx {tf2onnx.__version__}, seeded random weights)",
                       b1, b32, "bench/export_architectures.py")
        print(f"{name}: exported")


def main():
    os.makedirs(OUT, exist_ok=True)
    for source in sys.argv[1:] or ["paddle", "keras"]:
        {"paddle": paddle, "keras": keras}[source]()


if __name__ == "__main__":
    sys.exit(main())
