#!/usr/bin/env bash
# Benchmarks the engine against onnxruntime and numpy in one run (see bench/compare.py): the shipped models, real
# architectures (bench/export_architectures.py: PaddleOCR's trained detector/recogniser/classifier from a PyPI
# wheel, Keras applications and a BERT-style encoder through tf2onnx), at batch 1 and 32, and square GEMMs.
# Arguments go to compare.py (e.g. --only ppocr --batches 1); without any, it ends with the intra-op comparison
# (ResNet-18 and the BERT-style encoder at batch 1 on 1 and 2 threads).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r bench/requirements.txt
swift build -c release --product deepserve
python3 bench/make_models.py
python3 bench/export_architectures.py paddle
if [[ ! -x bench/.venv-export/bin/python ]]; then
    python3 -m venv bench/.venv-export
    bench/.venv-export/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-export.txt
fi
TF_CPP_MIN_LOG_LEVEL=3 bench/.venv-export/bin/python bench/export_architectures.py keras
python3 bench/compare.py "$@"
if [[ $# -eq 0 ]]; then
    echo "== intra-op threads: batch-1 latency of a residual CNN and a transformer on 1 and 2 threads, both sides"
    python3 bench/compare.py --only resnet18 --only keras-bert --batches 1 --no-gemm --intra-op-threads 1,2
fi
