#!/usr/bin/env bash
# Makes the llama.cpp reference for the SmolLM2 tests once (commit the JSON it writes):
#   bench/serve/make_reference.sh
# Builds llama-cpp-python (llama.cpp from source; long on 2 cores) in a venv in the cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
py="$(scripts/python-env.sh llamacpp bench/serve/requirements.txt)"
scripts/fetch-models.sh
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
"$py" bench/serve/llamacpp_reference.py "$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" \
  tests/serve/engine/data/smollm2_reference.json
