"""tritonclient.grpc's streaming API (start_stream / async_stream_infer, Triton's ModelStreamInfer) against a live
deepserve, unchanged.

Usage: kserve_grpc_stream_check.py HOST:PORT REPO_ROOT. Prints one line per check and, for the Swift test to compare
with the HTTP generate route, the streamed text as JSON (`text <json>`). Exits non-zero on the first failure.
- a generation on shakespeare-lstm (prompt in `text_input`, BYTES) answered token by token as Triton's decoupled
  models answer, the last response marked `triton_final_response`, and again with enable_empty_final_response;
- ordinary requests on the same stream (the digit CNN, raw contents) answered once each, in order;
- a failing request (unknown model, bad sampling parameter) answered with an error while the stream goes on.
"""
import json
import queue
import sys
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient


def prompt_input(text):
    tensor = grpcclient.InferInput("text_input", [1], "BYTES")
    tensor.set_data_from_numpy(np.array([text.encode()], dtype=object))
    return tensor


def read_generation(results, request_id):
    """Token responses up to the final one: (tokens, finish_reason, responses)."""
    tokens, responses = [], 0
    while True:
        result, error = results.get(timeout=120)
        assert error is None, f"generation failed: {error}"
        response = result.get_response()
        responses += 1
        assert response.id == request_id, response.id
        assert response.model_name == "shakespeare-lstm", response.model_name
        if response.outputs:
            token = result.as_numpy("text_output")
            assert token.shape == (1,), token.shape
            tokens.append(token[0].decode())
        if response.parameters["triton_final_response"].bool_param:
            return tokens, response.parameters["finish_reason"].string_param, responses


def main() -> None:
    url, root = sys.argv[1], Path(sys.argv[2])
    client = grpcclient.InferenceServerClient(url=url)
    results = queue.Queue()
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    settings = {"max_tokens": 24, "seed": 42, "temperature": 0.7}

    client.async_stream_infer("shakespeare-lstm", [prompt_input("ROMEO.\n")], request_id="gen-1", parameters=settings)
    tokens, reason, responses = read_generation(results, "gen-1")
    assert len(tokens) == 24 and responses == 24 and reason == "length", (tokens, responses, reason)
    print("streamed generation: 24 token responses, the last final: ok")
    print("text", json.dumps("".join(tokens)))

    client.async_stream_infer("shakespeare-lstm", [prompt_input("ROMEO.\n")], request_id="gen-2", parameters=settings,
                              enable_empty_final_response=True)
    again, reason, responses = read_generation(results, "gen-2")
    assert again == tokens and responses == 25 and reason == "length", (again, responses, reason)
    print("same seed, same tokens; an empty final response when asked: ok")

    images = np.load(root / "Tests/Fixtures/models/mnist-heldout/images.npy")[:2].astype(np.float32)
    for index in range(2):
        image = grpcclient.InferInput("image", [1, 1, 28, 28], "FP32")
        image.set_data_from_numpy(images[index:index + 1])
        client.async_stream_infer("mnist-cnn", [image], request_id=f"cnn-{index}")
    digits = []
    for index in range(2):
        result, error = results.get(timeout=60)
        assert error is None, error
        assert result.get_response().id == f"cnn-{index}", result.get_response().id
        digits.append(int(result.as_numpy("logits").argmax()))
    assert digits == [8, 5], digits
    print("ordinary requests on the stream, one response each, in order: ok")

    client.async_stream_infer("no-such-model", [prompt_input("x")], request_id="bad-1")
    _, error = results.get(timeout=60)
    assert error is not None and "no-such-model" in error.message(), error
    client.async_stream_infer("shakespeare-lstm", [prompt_input("x")], request_id="bad-2", parameters={"temperature": 99.0})
    _, error = results.get(timeout=60)
    assert error is not None and "temperature" in error.message(), error
    print("errors answered on the stream:", error.message())
    client.async_stream_infer("shakespeare-lstm", [prompt_input("O")], request_id="gen-3", parameters={"max_tokens": 3})
    tokens, _, _ = read_generation(results, "gen-3")
    assert len(tokens) == 3, tokens
    print("the stream goes on after errors: ok")
    client.stop_stream()


if __name__ == "__main__":
    main()
