#!/usr/bin/env python3
"""Writes the ONNX backend node tests (the operator spec in executable form) to a folder.

The `onnx` wheel ships the test *definitions* (onnx/backend/test/case/node/*.py) but not their
data; this runs the definitions and writes the usual layout that `EngineConformanceTests` reads:

    OUT/<test name>/model.onnx
    OUT/<test name>/test_data_set_0/input_0.pb, output_0.pb, ...

Usage: generate-onnx-node-tests.py OUT   (pin the onnx version in requirements-test.txt)
"""
import os
import shutil
import sys

import onnx
from onnx import TensorProto, numpy_helper
from onnx.backend.test.case import node as node_cases


def write_tensor(path, value, name):
    proto = value if isinstance(value, TensorProto) else numpy_helper.from_array(value, name)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def main():
    out = sys.argv[1]
    tmp = out + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    written = 0
    for case in node_cases.collect_testcases():
        graph = case.model.graph
        # Sequences, maps and optionals are outside what the engine serves: tensors only.
        if any(not v.type.HasField("tensor_type") for v in list(graph.input) + list(graph.output)):
            continue
        case_dir = os.path.join(tmp, case.name)
        os.makedirs(case_dir)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for i, (inputs, outputs) in enumerate(case.data_sets):
            data_dir = os.path.join(case_dir, f"test_data_set_{i}")
            os.makedirs(data_dir)
            for j, value in enumerate(inputs):
                write_tensor(os.path.join(data_dir, f"input_{j}.pb"), value, graph.input[j].name)
            for j, value in enumerate(outputs):
                write_tensor(os.path.join(data_dir, f"output_{j}.pb"), value, graph.output[j].name)
        written += 1
    with open(os.path.join(tmp, "ONNX_VERSION"), "w") as f:
        f.write(onnx.__version__ + "\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    print(f"wrote {written} ONNX node tests (onnx {onnx.__version__}) to {out}")


if __name__ == "__main__":
    main()
