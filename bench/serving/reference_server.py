#!/usr/bin/env python3
"""The reference a user would otherwise deploy, set up the way its documentation tells users to: FastAPI on
uvicorn[standard] (uvloop, httptools), one worker process per core, the blocking work (PIL decoding, onnxruntime) off
the event loop in Starlette's thread pool, onnxruntime with one intra-op thread per worker. Same mnist-cnn .onnx,
same preprocessing (grayscale, 28×28 bilinear, /255, mean/std, light backgrounds inverted as the config's
`"invert": "auto"` says) and the same answer as deepserve.

    python bench/serving/reference_server.py PORT [WORKERS, default: the number of cores]
"""
import io
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import uvicorn
from fastapi import FastAPI, Request, Response
from PIL import Image
from starlette.concurrency import run_in_threadpool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models/mnist-cnn")
config = json.load(open(os.path.join(MODEL, "config.json")))
pre = config["preprocessing"]
labels = open(os.path.join(MODEL, "labels.txt")).read().split()
options = ort.SessionOptions()
options.intra_op_num_threads = 1   # parallelism comes from the worker processes, as deepserve's from its workers
options.inter_op_num_threads = 1
session = ort.InferenceSession(os.path.join(MODEL, "1/model.onnx"), options, providers=["CPUExecutionProvider"])
app = FastAPI()


def predict(data):
    image = Image.open(io.BytesIO(data)).convert("L")
    border = np.concatenate([np.asarray(image)[0], np.asarray(image)[-1], np.asarray(image)[:, 0], np.asarray(image)[:, -1]])
    if pre.get("invert") == "auto" and border.mean() > 127:   # dark ink on light paper, for a white-on-black model
        image = Image.eval(image, lambda v: 255 - v)
    image = image.resize((pre["width"], pre["height"]), Image.BILINEAR)
    x = (np.asarray(image, dtype=np.float32) * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    logits = session.run(None, {"image": x[None, None]})[0][0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    top = np.argsort(-p)[:config.get("postprocessing", {}).get("top_k", 5)]
    return {"model": "mnist-cnn", "version": 1,
            "predictions": [{"label": labels[i], "index": int(i), "probability": float(p[i])} for i in top]}


@app.post("/v1/models/mnist-cnn/classify")
async def classify(request: Request):
    # Reading the body is I/O (on the loop); decoding and inference block, so they run in the thread pool.
    body = await run_in_threadpool(predict, await request.body())
    return Response(json.dumps(body), media_type="application/json")


if __name__ == "__main__":
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else os.cpu_count()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run("reference_server:app", host="127.0.0.1", port=int(sys.argv[1]), workers=workers,
                log_level="warning", access_log=False)
