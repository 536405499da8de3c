"""A stock KServe V2 client (NVIDIA's tritonclient[http]) against a live deepserve, unchanged.

Usage: kserve_client_check.py URL REPO_ROOT. Exits non-zero with the reason on the first failure; prints one line
per check. tritonclient sends inputs as raw binary tensors by default (Inference-Header-Content-Length), and is
asked for outputs both as binary and as JSON.
"""
import sys
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient


def main() -> None:
    url, root = sys.argv[1], Path(sys.argv[2])
    client = httpclient.InferenceServerClient(url=url)
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    assert client.is_model_ready("mnist-cnn"), "mnist-cnn not ready"
    assert not client.is_model_ready("no-such-model"), "an unknown model reported ready"
    server = client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"], server
    metadata = client.get_model_metadata("mnist-cnn")
    assert metadata["inputs"][0]["name"] == "image" and metadata["outputs"][0]["name"] == "logits", metadata
    print("health, readiness and metadata: ok")

    heldout = root / "Tests/Fixtures/models/mnist-heldout"
    images = np.load(heldout / "images.npy")[:8].astype(np.float32)
    labels = np.load(heldout / "labels.npy")[:8]
    for binary_in in (True, False):
        for binary_out in (True, False):
            image = httpclient.InferInput("image", list(images.shape), "FP32")
            image.set_data_from_numpy(images, binary_data=binary_in)
            logits = httpclient.InferRequestedOutput("logits", binary_data=binary_out)
            result = client.infer("mnist-cnn", [image], outputs=[logits], request_id="check-1")
            got = result.as_numpy("logits")
            assert got.shape == (8, 10), got.shape
            predicted = got.argmax(axis=1)
            assert (predicted == labels).sum() >= 7, (predicted, labels)
            print(f"infer mnist-cnn, binary input {binary_in}, binary output {binary_out}: {predicted.tolist()} ok")
    # Version in the URL, and a model with an int64 input and three outputs (the LSTM's step).
    state = np.zeros((2, 1, 256), np.float32)
    tokens = httpclient.InferInput("tokens", [1, 5], "INT64")
    tokens.set_data_from_numpy(np.array([[1, 2, 3, 4, 5]], np.int64))
    h0 = httpclient.InferInput("h0", list(state.shape), "FP32")
    h0.set_data_from_numpy(state)
    c0 = httpclient.InferInput("c0", list(state.shape), "FP32")
    c0.set_data_from_numpy(state)
    result = client.infer("shakespeare-lstm", [tokens, h0, c0], model_version="1")
    outputs = {output["name"] for output in result.get_response()["outputs"]}
    assert len(outputs) == 3, outputs
    print(f"infer shakespeare-lstm version 1 (int64 + float inputs): outputs {sorted(outputs)} ok")
    try:
        client.infer("no-such-model", [image])
        raise AssertionError("an unknown model answered")
    except httpclient.InferenceServerException as error:
        assert error.status() in ("404", 404, None) or "not" in str(error).lower(), error
        print(f"unknown model refused: {error.message()!r} ok")


if __name__ == "__main__":
    main()
