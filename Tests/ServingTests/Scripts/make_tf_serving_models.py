"""Writes the models of TensorFlow Serving's REST API documentation, as ONNX, into a model repository.

Usage: make_tf_serving_models.py REPOSITORY
- half_plus_three (version 123, as in the docs' example): y = 0.5 * x + 3 on a vector x of any length;
- sensors: the docs' row/columnar example without its string input "tag" (ONNX models here have no strings):
  inputs signal [batch, 5] and sensor [batch, 2, 2]; outputs signal_sum [batch] and sensor_twice [batch, 2, 2].
"""
import json
import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save


def write(root: Path, name: str, version: int, graph) -> None:
    folder = root / name / str(version)
    folder.mkdir(parents=True)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="deepserve-tests")
    save(model, str(folder / "model.onnx"))

    def specs(values):
        return [{"name": v.name, "dtype": "float32",
                 "shape": [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]}
                for v in values]
    config = {"name": name, "inputs": specs(graph.input), "outputs": specs(graph.output)}
    (root / name / "config.json").write_text(json.dumps(config))


def main() -> None:
    root = Path(sys.argv[1])
    half = helper.make_graph(
        [helper.make_node("Mul", ["x", "half"], ["scaled"]), helper.make_node("Add", ["scaled", "three"], ["y"])],
        "half_plus_three",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
        [numpy_helper.from_array(np.array(0.5, np.float32), "half"), numpy_helper.from_array(np.array(3, np.float32), "three")],
    )
    write(root, "half_plus_three", 123, half)
    sensors = helper.make_graph(
        [helper.make_node("ReduceSum", ["signal", "axes"], ["signal_sum"], keepdims=0),
         helper.make_node("Mul", ["sensor", "two"], ["sensor_twice"])],
        "sensors",
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, ["batch", 5]),
         helper.make_tensor_value_info("sensor", TensorProto.FLOAT, ["batch", 2, 2])],
        [helper.make_tensor_value_info("signal_sum", TensorProto.FLOAT, ["batch"]),
         helper.make_tensor_value_info("sensor_twice", TensorProto.FLOAT, ["batch", 2, 2])],
        [numpy_helper.from_array(np.array([1], np.int64), "axes"), numpy_helper.from_array(np.array(2, np.float32), "two")],
    )
    write(root, "sensors", 1, sensors)


if __name__ == "__main__":
    main()
