#!/usr/bin/env python3
"""Sends the same inputs to a running deepserve (KServe V2, binary tensors) and to onnxruntime, and prints how far
apart the answers are — the last step of docs/serve-your-own-model.md. Needs numpy and onnxruntime.

    python3 scripts/compare-with-onnxruntime.py URL MODEL_NAME MODEL.onnx --input NAME=FILE.npy [--input …]

Prints, per output, the largest absolute difference and (for a [batch, classes] output) in how many rows the top
class agrees; exits 1 when any difference is above --tolerance (default 1e-4, relative to the output's largest value).
"""
import argparse
import json
import sys
import urllib.request

import numpy as np
import onnxruntime as ort

DATATYPES = {np.dtype(np.float32): "FP32", np.dtype(np.float64): "FP64", np.dtype(np.int64): "INT64",
             np.dtype(np.int32): "INT32", np.dtype(np.uint8): "UINT8", np.dtype(np.bool_): "BOOL"}
NUMPY = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32, "UINT8": np.uint8, "BOOL": np.bool_}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("model")
    parser.add_argument("onnx")
    parser.add_argument("--input", action="append", required=True, metavar="NAME=FILE.npy")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    arguments = parser.parse_args()
    inputs = {}
    for item in arguments.input:
        name, _, path = item.partition("=")
        inputs[name] = np.load(path)
        if inputs[name].dtype == np.uint8:
            inputs[name] = inputs[name].astype(np.float32)   # images saved as bytes; models take floats

    session = ort.InferenceSession(arguments.onnx, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    reference = dict(zip(names, session.run(None, inputs)))

    header = {"inputs": [], "outputs": [{"name": name, "parameters": {"binary_data": True}} for name in names]}
    body = b""
    for name, array in inputs.items():
        array = np.ascontiguousarray(array)
        header["inputs"].append({"name": name, "shape": list(array.shape), "datatype": DATATYPES[array.dtype],
                                 "parameters": {"binary_data_size": array.nbytes}})
        body += array.tobytes()
    head = json.dumps(header).encode()
    request = urllib.request.Request(f"{arguments.url.rstrip('/')}/v2/models/{arguments.model}/infer", data=head + body,
                                     headers={"Content-Type": "application/octet-stream",
                                              "Inference-Header-Content-Length": str(len(head))})
    with urllib.request.urlopen(request, timeout=60) as answer:
        payload = answer.read()
        length = int(answer.headers["Inference-Header-Content-Length"])
    result = json.loads(payload[:length])
    offset = length
    worst = 0.0
    for output in result["outputs"]:
        size = output["parameters"]["binary_data_size"]
        ours = np.frombuffer(payload[offset:offset + size], dtype=NUMPY[output["datatype"]]).reshape(output["shape"])
        offset += size
        theirs = reference[output["name"]]
        difference = float(np.max(np.abs(ours.astype(np.float64) - theirs))) if ours.size else 0.0
        scale = max(float(np.max(np.abs(theirs))) if theirs.size else 0.0, 1e-12)
        worst = max(worst, difference / scale)
        line = f"{output['name']}: max abs difference {difference:.1e} over {ours.size} values"
        if ours.ndim == 2 and ours.shape[1] > 1:
            same = int(np.sum(np.argmax(ours, axis=1) == np.argmax(theirs, axis=1)))
            line += f"; same top class in {same} of {ours.shape[0]} rows"
        print(line)
    print("ok: deepserve matches onnxruntime" if worst <= arguments.tolerance else f"DIFFERENT: relative difference {worst:.1e}")
    sys.exit(0 if worst <= arguments.tolerance else 1)


if __name__ == "__main__":
    main()
