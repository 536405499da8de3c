#!/usr/bin/env python3
"""The reference a user might otherwise deploy: FastAPI + uvicorn + onnxruntime serving the same
mnist-cnn .onnx with the same preprocessing (grayscale, 28×28 bilinear, /255, mean/std) and answer.

    python bench/serving/reference_server.py PORT
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

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models/mnist-cnn")
config = json.load(open(os.path.join(MODEL, "config.json")))
pre = config["preprocessing"]
labels = open(os.path.join(MODEL, "labels.txt")).read().split()
options = ort.SessionOptions()
options.intra_op_num_threads = 1   # one request per thread, as deepserve's workers
session = ort.InferenceSession(os.path.join(MODEL, "1/model.onnx"), options, providers=["CPUExecutionProvider"])
app = FastAPI()


@app.post("/v1/models/mnist-cnn/classify")
async def classify(request: Request):
    image = Image.open(io.BytesIO(await request.body())).convert("L").resize((pre["width"], pre["height"]), Image.BILINEAR)
    x = (np.asarray(image, dtype=np.float32) * pre["scale"] - pre["mean"][0]) / pre["std"][0]
    logits = session.run(None, {"image": x[None, None]})[0][0]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    top = np.argsort(-p)[:3]
    body = {"model": "mnist-cnn", "predictions": [{"label": labels[i], "index": int(i), "probability": float(p[i])} for i in top]}
    return Response(json.dumps(body), media_type="application/json")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
