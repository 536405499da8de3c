"""One run, three protocols: the digit CNN (mnist-cnn, one 1×1×28×28 image per request) through the stock tritonclient
over gRPC (raw tensors), over HTTP with JSON tensors both ways, and over HTTP with binary tensors both ways, against
one running deepserve. Each protocol gets the same number of client threads, each with its own client, for the same
number of seconds after a warm-up; prints requests/s and latency percentiles per protocol. Each thread makes its own
client inside the thread: tritonclient.http runs on gevent, whose hub belongs to one thread.

Usage: client.py HTTP_HOST:PORT GRPC_HOST:PORT [SECONDS per protocol, default 10] [THREADS, default 4]
"""
import sys
import threading
import time

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient


def make_call(kind, http_url, grpc_url, image):
    if kind == "grpc":
        client = grpcclient.InferenceServerClient(grpc_url)
        tensor = grpcclient.InferInput("image", list(image.shape), "FP32")
        tensor.set_data_from_numpy(image)
        wanted = [grpcclient.InferRequestedOutput("logits")]
        return lambda: client.infer("mnist-cnn", [tensor], outputs=wanted).as_numpy("logits")
    binary = kind == "http-binary"
    client = httpclient.InferenceServerClient(http_url)
    tensor = httpclient.InferInput("image", list(image.shape), "FP32")
    tensor.set_data_from_numpy(image, binary_data=binary)
    wanted = [httpclient.InferRequestedOutput("logits", binary_data=binary)]
    return lambda: client.infer("mnist-cnn", [tensor], outputs=wanted).as_numpy("logits")


def measure(kind, http_url, grpc_url, image, seconds, threads):
    latencies = [[] for _ in range(threads)]
    ready, go = threading.Barrier(threads + 1), threading.Barrier(threads + 1)
    window = {}

    def loop(index):
        call, mine = make_call(kind, http_url, grpc_url, image), latencies[index]
        assert call().shape == (1, 10)   # warm-up: connection open, answer checked
        ready.wait()
        go.wait()
        stop = window["stop"]
        while time.monotonic() < stop:
            start = time.perf_counter()
            call()
            mine.append(time.perf_counter() - start)

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    ready.wait()   # every thread warmed up
    began = time.monotonic()
    window["stop"] = began + seconds
    go.wait()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - began
    every = np.array([value for mine in latencies for value in mine]) * 1000
    return len(every) / elapsed, np.percentile(every, 50), np.percentile(every, 99)


def main():
    http_url, grpc_url = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    image = np.load("Tests/Fixtures/models/mnist-heldout/images.npy")[:1].astype(np.float32)
    print(f"mnist-cnn, 1 image per request, {threads} client threads, {seconds:g} s each")
    print(f"{'protocol':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for kind in ("grpc", "http-json", "http-binary"):
        rate, p50, p99 = measure(kind, http_url, grpc_url, image, seconds, threads)
        print(f"{kind:<12} {rate:>8.0f} {p50:>8.2f} {p99:>8.2f}", flush=True)


if __name__ == "__main__":
    main()
