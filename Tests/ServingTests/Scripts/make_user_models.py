"""Builds a small model repository of the kinds users bring (ServingTests.UserModelTests), and what onnxruntime
answers for its test image, so the Swift test can compare deepserve's answers with onnxruntime's.

  keras-nhwc          NHWC input (as tf2onnx exports Keras), graph ends in Softmax, no layout or activation in the config
  multilabel-sigmoid  NCHW input, graph ends in Sigmoid: independent scores, no softmax on top
  nhwc-autoencoder    NHWC input and output, task reconstruction

Usage: make_user_models.py OUT_DIR  → OUT_DIR/models/…, OUT_DIR/image.png, prints the expected answers as JSON.
"""
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def save(model_dir, graph, config, labels=None):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="deepserve-tests")
    onnx.checker.check_model(model)
    (model_dir / "1").mkdir(parents=True)
    onnx.save(model, str(model_dir / "1" / "model.onnx"))
    (model_dir / "config.json").write_text(json.dumps(config, indent=2))
    if labels:
        (model_dir / "labels.txt").write_text("\n".join(labels) + "\n")
    return model


def png(path, pixels):
    """A plain 8-bit RGB PNG, written without PIL."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].astype(np.uint8).tobytes() for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def run(model, feed):
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def main():
    out = Path(sys.argv[1])
    models = out / "models"
    models.mkdir(parents=True)
    pixels = rng.integers(0, 256, size=(8, 8, 3))
    png(out / "image.png", pixels)
    rgb = pixels.astype(np.float32) / 255.0            # scale 1/255, no mean/std
    # PIL's "L" conversion (ITU-R 601 luma in 16-bit fixed point, rounded), as deepserve's Image.grayscale does it.
    gray = ((pixels[..., 0] * 19595 + pixels[..., 1] * 38470 + pixels[..., 2] * 7471 + 0x8000) >> 16).astype(np.float32)
    expected = {}

    # keras-nhwc: [N, 8, 8, 3] → Transpose → Conv 3→4 → Relu → GlobalAveragePool → Flatten → Gemm 4→3 → Softmax
    nodes = [
        helper.make_node("Transpose", ["input_1"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "w", "b"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["dense"], axis=-1),
    ]
    graph = helper.make_graph(nodes, "keras_like", [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, ["unk__28", 8, 8, 3])],
                              [helper.make_tensor_value_info("dense", TensorProto.FLOAT, ["unk__29", 3])],
                              [tensor("w", rng.normal(0, 1, (4, 3, 3, 3))), tensor("b", rng.normal(0, 0.1, 4)),
                               tensor("fc_w", rng.normal(0, 3, (3, 4))), tensor("fc_b", rng.normal(0, 0.1, 3))])
    model = save(models / "keras-nhwc", graph, {
        "name": "keras-nhwc", "task": "image-classification",
        "inputs": [{"name": "input_1", "dtype": "float32", "shape": [-1, 8, 8, 3]}],
        "outputs": [{"name": "dense", "dtype": "float32", "shape": [-1, 3]}],
        "preprocessing": {"width": 8, "height": 8, "channels": 3, "scale": 1 / 255},
        "labels_file": "labels.txt"}, labels=["cat", "dog", "bird"])
    expected["keras-nhwc"] = run(model, {"input_1": rgb[None]})[0][0].tolist()

    # multilabel-sigmoid: [N, 1, 8, 8] → Flatten → Gemm 64→4 → Sigmoid
    nodes = [helper.make_node("Flatten", ["image"], ["flat"]),
             helper.make_node("Gemm", ["flat", "w", "b"], ["logits"], transB=1),
             helper.make_node("Sigmoid", ["logits"], ["scores"])]
    graph = helper.make_graph(nodes, "multilabel", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 4])],
                              [tensor("w", rng.normal(0, 0.3, (4, 64))), tensor("b", rng.normal(0, 0.1, 4))])
    model = save(models / "multilabel-sigmoid", graph, {
        "name": "multilabel-sigmoid", "task": "image-classification",
        "inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 1, 8, 8]}],
        "outputs": [{"name": "scores", "dtype": "float32", "shape": [-1, 4]}],
        "preprocessing": {"width": 8, "height": 8, "channels": 1, "scale": 1 / 255, "layout": "NCHW"}})
    expected["multilabel-sigmoid"] = run(model, {"image": (gray / 255.0)[None, None].astype(np.float32)})[0][0].tolist()

    # nhwc-autoencoder: [N, 8, 8, 1] → Transpose → Conv 1x1 → Sigmoid → Transpose back
    nodes = [helper.make_node("Transpose", ["x"], ["nchw"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["nchw", "w", "b"], ["conv"], kernel_shape=[1, 1]),
             helper.make_node("Sigmoid", ["conv"], ["sig"]),
             helper.make_node("Transpose", ["sig"], ["reconstruction"], perm=[0, 2, 3, 1])]
    graph = helper.make_graph(nodes, "ae", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8, 8, 1])],
                              [helper.make_tensor_value_info("reconstruction", TensorProto.FLOAT, ["n", 8, 8, 1])],
                              [tensor("w", [[[[2.0]]]]), tensor("b", [-1.0])])
    model = save(models / "nhwc-autoencoder", graph, {
        "name": "nhwc-autoencoder", "task": "reconstruction",
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 8, 8, 1]}],
        "outputs": [{"name": "reconstruction", "dtype": "float32", "shape": [-1, 8, 8, 1]}],
        "preprocessing": {"width": 8, "height": 8, "channels": 1, "scale": 1 / 255, "layout": "NHWC"}})
    x = (gray / 255.0)[None, :, :, None].astype(np.float32)
    reconstruction = run(model, {"x": x})[0]
    expected["nhwc-autoencoder"] = float(np.mean((reconstruction - x) ** 2))
    print(json.dumps(expected))


if __name__ == "__main__":
    main()
