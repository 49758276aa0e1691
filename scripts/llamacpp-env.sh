#!/usr/bin/env bash
# llamacpp-env.sh NAME REQUIREMENTS_FILE: scripts/python-env.sh for requirements that build
# llama-cpp-python from source, on every machine. On a CPU with AMX (Sapphire Rapids and later)
# llama-cpp-python 0.3.36 as pip builds it by default segfaults on its first eval; there it is
# built without the AMX kernels (AVX-512 kept) into the venv NAME-noamx, so a venv built the
# default way elsewhere is never taken for it, and without pip's cache, whose wheel built the
# default way would otherwise be reused. Prints the venv's python, as python-env.sh does.
# GEARBOX_CPUINFO (default /proc/cpuinfo) is the CPU description read for the `amx` flags.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="$1"
req="$2"
if grep -q amx "${GEARBOX_CPUINFO:-/proc/cpuinfo}"; then
  name="$name-noamx"
  export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  export PIP_NO_CACHE_DIR=1
  echo "llamacpp-env: CPU with AMX: llama.cpp built without AMX (CMAKE_ARGS=$CMAKE_ARGS)" >&2
fi
exec bash "$here/python-env.sh" "$name" "$req"
