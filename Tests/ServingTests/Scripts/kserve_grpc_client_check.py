"""A stock KServe V2 gRPC client (NVIDIA's tritonclient[grpc]) against a live deepserve, unchanged.

Usage: kserve_grpc_client_check.py HOST:PORT REPO_ROOT ADMIN_TOKEN. Exits non-zero with the reason on the first
failure; prints one line per check. tritonclient.grpc sends tensors as raw_input_contents; typed `contents` are sent
with the protobuf classes and stub tritonclient itself ships (tritonclient.grpc.service_pb2[_grpc]). The standard
health service is called with hand-encoded messages (an empty request; SERVING is field 1 = 1), so no other package
is needed.
"""
import sys
from pathlib import Path

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException


def expect_error(call, code, what):
    try:
        call()
    except InferenceServerException as error:
        assert code in str(error.status()), (what, error.status(), error.message())
        print(f"{what}: {error.status()} {error.message()!r} ok")
        return
    raise AssertionError(f"{what}: no error")


def main() -> None:
    url, root, token = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    client = grpcclient.InferenceServerClient(url=url)

    # Health: the KServe calls and grpc.health.v1 (what a Kubernetes grpc probe calls).
    assert client.is_server_live(), "server not live"
    assert client.is_server_ready(), "server not ready"
    assert client.is_model_ready("mnist-cnn"), "mnist-cnn not ready"
    assert client.is_model_ready("mnist-cnn", "1"), "mnist-cnn version 1 not ready"
    assert not client.is_model_ready("no-such-model"), "an unknown model reported ready"
    channel = grpc.insecure_channel(url)
    check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda m: m, response_deserializer=lambda b: b)
    assert check(b"") == b"\x08\x01", "grpc.health.v1 Check is not SERVING"
    try:
        check(b"\x0a\x07nothing")  # service = "nothing"
        raise AssertionError("an unknown health service answered")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.NOT_FOUND, error
    print("health (live, ready, model ready, grpc.health.v1 Check): ok")

    server = client.get_server_metadata()
    assert server.name == "deepserve" and "model_repository" in server.extensions, server
    metadata = client.get_model_metadata("mnist-cnn")
    assert metadata.inputs[0].name == "image" and metadata.inputs[0].datatype == "FP32", metadata
    assert list(metadata.inputs[0].shape)[1:] == [1, 28, 28], metadata
    assert metadata.outputs[0].name == "logits" and "1" in metadata.versions, metadata
    print(f"server and model metadata: {server.name} {server.version}, inputs {list(metadata.inputs[0].shape)} ok")

    # The digit CNN with raw tensors (tritonclient's default): answered raw, read back with as_numpy.
    heldout = root / "Tests/Fixtures/models/mnist-heldout"
    images = np.load(heldout / "images.npy")[:8].astype(np.float32)
    labels = np.load(heldout / "labels.npy")[:8]
    image = grpcclient.InferInput("image", list(images.shape), "FP32")
    image.set_data_from_numpy(images)
    result = client.infer("mnist-cnn", [image], outputs=[grpcclient.InferRequestedOutput("logits")], request_id="grpc-1")
    logits = result.as_numpy("logits")
    assert logits.shape == (8, 10), logits.shape
    assert (logits.argmax(axis=1) == labels).sum() >= 7, (logits.argmax(axis=1), labels)
    assert result.get_response().id == "grpc-1", result.get_response().id
    print(f"infer mnist-cnn, raw contents: {logits.argmax(axis=1).tolist()} ok")

    # The same images as typed contents (fp32_contents): answered typed, equal to the raw answer.
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    request = service_pb2.ModelInferRequest(model_name="mnist-cnn", model_version="1")
    tensor = request.inputs.add(name="image", datatype="FP32", shape=list(images.shape))
    tensor.contents.fp32_contents.extend(images.ravel().tolist())
    response = stub.ModelInfer(request)
    assert not response.raw_output_contents, "typed request answered raw"
    typed = np.array(response.outputs[0].contents.fp32_contents, np.float32).reshape(list(response.outputs[0].shape))
    assert np.allclose(typed, logits, atol=1e-5), (typed[0], logits[0])
    print("infer mnist-cnn, typed contents: equal to the raw answer ok")

    # The LSTM: an int64 input and two float inputs, raw and typed.
    state = np.zeros((2, 1, 256), np.float32)
    tokens = grpcclient.InferInput("tokens", [1, 5], "INT64")
    tokens.set_data_from_numpy(np.array([[1, 2, 3, 4, 5]], np.int64))
    h0 = grpcclient.InferInput("h0", list(state.shape), "FP32")
    h0.set_data_from_numpy(state)
    c0 = grpcclient.InferInput("c0", list(state.shape), "FP32")
    c0.set_data_from_numpy(state)
    result = client.infer("shakespeare-lstm", [tokens, h0, c0], model_version="1")
    outputs = {output.name: result.as_numpy(output.name) for output in result.get_response().outputs}
    assert len(outputs) == 3, outputs.keys()
    request = service_pb2.ModelInferRequest(model_name="shakespeare-lstm")
    request.inputs.add(name="tokens", datatype="INT64", shape=[1, 5]).contents.int64_contents.extend([1, 2, 3, 4, 5])
    for name in ("h0", "c0"):
        request.inputs.add(name=name, datatype="FP32", shape=[2, 1, 256]).contents.fp32_contents.extend([0.0] * 512)
    response = stub.ModelInfer(request)
    for output in response.outputs:
        typed = np.array(output.contents.fp32_contents, np.float32).reshape(list(output.shape))
        assert np.allclose(typed, outputs[output.name], atol=1e-5), output.name
    print(f"infer shakespeare-lstm (int64 + float inputs), raw and typed: outputs {sorted(outputs)} ok")

    # Mistakes: each one status, and the server keeps serving.
    expect_error(lambda: client.infer("no-such-model", [image]), "NOT_FOUND", "unknown model")
    # tritonclient checks shapes against the numpy array itself, so these go through its protobuf classes and stub.
    request = service_pb2.ModelInferRequest(model_name="mnist-cnn")
    request.inputs.add(name="image", datatype="FP32", shape=[3, 1, 28, 28])
    request.raw_input_contents.append(np.zeros((2, 1, 28, 28), np.float32).tobytes())  # 2 images of bytes, shape says 3
    expect_error(lambda: _raise(stub, request), "INVALID_ARGUMENT", "raw bytes that don't fit the shape")
    request = service_pb2.ModelInferRequest(model_name="mnist-cnn")
    request.inputs.add(name="image", datatype="FP32", shape=[1, 1, 28, 28]).contents.fp32_contents.extend([0.0] * 700)
    expect_error(lambda: _raise(stub, request), "INVALID_ARGUMENT", "typed contents that don't fit the shape")
    wrong = grpcclient.InferInput("image", [1, 1, 27, 28], "FP32")
    wrong.set_data_from_numpy(np.zeros((1, 1, 27, 28), np.float32))
    expect_error(lambda: client.infer("mnist-cnn", [wrong]), "INVALID_ARGUMENT", "a shape the model can't take")
    request = service_pb2.ModelInferRequest(model_name="mnist-cnn")
    request.inputs.add(name="image", datatype="FP32", shape=[-1, 1, 28, 28])
    request.raw_input_contents.append(b"")
    expect_error(lambda: _raise(stub, request), "INVALID_ARGUMENT", "a negative dimension")
    request = service_pb2.ModelInferRequest(model_name="mnist-cnn")
    request.inputs.add(name="image", datatype="FP32", shape=[1 << 62, 1 << 62])
    request.raw_input_contents.append(b"")
    expect_error(lambda: _raise(stub, request), "RESOURCE_EXHAUSTED", "a shape whose product overflows")

    # Triton's repository extension: the admin token as call metadata, as over HTTP.
    expect_error(lambda: client.unload_model("mnist-cnn"), "UNAUTHENTICATED", "unload without a token")
    expect_error(lambda: client.load_model("mnist-cnn", headers={"authorization": "Bearer guess"}), "UNAUTHENTICATED",
                 "load with a wrong token")
    expect_error(lambda: client.get_model_repository_index(), "UNAUTHENTICATED", "index without a token")
    auth = {"authorization": f"Bearer {token}"}
    index = client.get_model_repository_index(headers=auth)
    assert any(model.name == "mnist-cnn" and model.state == "READY" for model in index.models), index
    client.unload_model("mnist-cnn", headers=auth)
    assert not client.is_model_ready("mnist-cnn"), "mnist-cnn still ready after unload"
    expect_error(lambda: client.infer("mnist-cnn", [image]), "NOT_FOUND", "infer on an unloaded model")
    client.load_model("mnist-cnn", headers=auth)
    assert client.is_model_ready("mnist-cnn"), "mnist-cnn not ready after load"
    print("repository index, unload and load with the token: ok")
    assert client.is_server_live(), "server not live after the mistakes"


def _raise(stub, request):
    """Calls ModelInfer on the raw stub and turns a gRPC error into tritonclient's exception, as the client does."""
    try:
        stub.ModelInfer(request)
    except grpc.RpcError as error:
        raise InferenceServerException(msg=error.details(), status=str(error.code()))


if __name__ == "__main__":
    main()
