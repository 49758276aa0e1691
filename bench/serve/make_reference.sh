#!/usr/bin/env bash
# Makes the llama.cpp references for the SmolLM2 and Gemma 3 tests once (commit the JSON it
# writes):
#   bench/serve/make_reference.sh
# Builds llama-cpp-python (llama.cpp from source; long on 2 cores) in a venv in the cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
py="$(scripts/llamacpp-env.sh llamacpp bench/serve/requirements.txt)"
scripts/fetch-models.sh
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
"$py" bench/serve/llamacpp_reference.py "$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" \
  tests/serve/engine/data/smollm2_reference.json
"$py" bench/serve/llamacpp_gemma3_reference.py "$cache/models/gemma-3-270m-Q4_K_M.gguf" \
  "$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" tests/serve/engine/data/perplexity_text.txt \
  tests/serve/engine/data/gemma3_reference.json tests/serve/engine/data/prompt_ids_reference.json
