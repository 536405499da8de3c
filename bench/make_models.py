#!/usr/bin/env python3
"""Builds the benchmark-only ONNX models into bench/.models/ (git-ignored; rebuilt on demand):

- matmul_{256,512,1024}.onnx: Y = X · W with W an initializer, to time the GEMM kernel through the engine;
- resnet18.onnx: a ResNet-18 (random weights, 3×224×224 in) as the "big CNN" reference point.

Needs onnx and numpy; resnet18 also needs torch (skipped with a message if it is missing).
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".models")


def matmul_model(n):
    rng = np.random.default_rng(n)
    w = numpy_helper.from_array(rng.standard_normal((n, n)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])], f"matmul_{n}",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, n])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def resnet18(path):
    try:
        import torch
        from torch import nn
    except ImportError:
        print("torch is not installed: skipping resnet18 (pip install -r training/requirements.txt)")
        return

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (self.down(x) if self.down is not None else x))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            layers, cin = [], 64
            for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
                layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.head = nn.Linear(512, 1000)

        def forward(self, x):
            x = self.layers(self.stem(x))
            return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    torch.manual_seed(0)
    model = ResNet18().eval()
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), path, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)


def main():
    os.makedirs(OUT, exist_ok=True)
    for n in (256, 512, 1024):
        path = os.path.join(OUT, f"matmul_{n}.onnx")
        if not os.path.exists(path):
            onnx.save(matmul_model(n), path)
    path = os.path.join(OUT, "resnet18.onnx")
    if not os.path.exists(path):
        resnet18(path)
    print(f"benchmark models in {OUT}")


if __name__ == "__main__":
    sys.exit(main())
