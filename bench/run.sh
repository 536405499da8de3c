#!/usr/bin/env bash
# Benchmarks the engine against onnxruntime and numpy in one run (see bench/compare.py).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r bench/requirements.txt
swift build -c release --product deepserve
python3 bench/make_models.py
python3 bench/compare.py "$@"
