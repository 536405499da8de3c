#!/usr/bin/env bash
# Checks ds_igemm (Sources/CKernels/igemm.c) and ds_quantize_8bit against their portable paths, natively (VNNI or AVX2,
# whichever this CPU has) and with VPDPBUSD emulated (-DDS_IGEMM_EMULATE_VNNI), without SwiftPM.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sources="scripts/igemm-check/igemm_check.c Sources/CKernels/igemm.c Sources/CKernels/dispatch.c"
flags="-O2 -Wall -ISources/CKernels/include -ISources/CKernels"
clang $flags $sources -o "$out/native" && "$out/native"
clang $flags -DDS_IGEMM_EMULATE_VNNI $sources -o "$out/emulated" && "$out/emulated"
clang $flags scripts/igemm-check/quantize_check.c Sources/CKernels/quantize.c Sources/CKernels/dispatch.c -lm -o "$out/quantize" && "$out/quantize"
