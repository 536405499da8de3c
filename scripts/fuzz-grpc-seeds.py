"""Seeds for scripts/fuzz.sh grpc-tensors: serialized inference.ModelInferRequest messages (typed contents, raw
contents, a BYTES prompt both ways, a bad shape), written with the protobuf classes tritonclient ships
(requirements-test.txt). Usage: fuzz-grpc-seeds.py CORPUS_DIR."""
import struct
import sys
from pathlib import Path

from tritonclient.grpc import service_pb2 as pb


def request(*inputs, raw=()):
    message = pb.ModelInferRequest(model_name="m", id="seed")
    for name, datatype, shape, fill in inputs:
        tensor = message.inputs.add(name=name, datatype=datatype, shape=shape)
        if fill:
            fill(tensor.contents)
    message.raw_input_contents.extend(raw)
    return message.SerializeToString()


def main() -> None:
    corpus = Path(sys.argv[1])
    corpus.mkdir(parents=True, exist_ok=True)
    prompt = "ROMEO.\n".encode()
    seeds = {
        "typed-fp32": request(("x", "FP32", [2, 2], lambda c: c.fp32_contents.extend([1.0, -2.5, 3.0, 4.0]))),
        "typed-int8": request(("x", "INT8", [3], lambda c: c.int_contents.extend([-128, 0, 127]))),
        "typed-mixed": request(("t", "INT64", [1, 2], lambda c: c.int64_contents.extend([1, 2])),
                               ("h", "BOOL", [2], lambda c: c.bool_contents.extend([True, False]))),
        "raw-fp32": request(("x", "FP32", [1, 2], None), raw=[struct.pack("<2f", 0.5, 1.5)]),
        "raw-uint16": request(("x", "UINT16", [3], None), raw=[struct.pack("<3H", 1, 2, 65535)]),
        "bytes-typed": request(("text_input", "BYTES", [1], lambda c: c.bytes_contents.append(prompt))),
        "bytes-raw": request(("text_input", "BYTES", [1], None), raw=[struct.pack("<I", len(prompt)) + prompt]),
        "bad-shape": request(("x", "FP32", [-1, 9223372036854775807], None), raw=[b"\0" * 8]),
    }
    for name, data in seeds.items():
        (corpus / f"seed-{name}").write_bytes(data)


if __name__ == "__main__":
    main()
