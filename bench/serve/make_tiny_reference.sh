#!/usr/bin/env bash
# Regenerates the tiny family models and llama.cpp's references on them (commit the references):
#   bench/serve/make_tiny_reference.sh [family...]
# Writes <model cache>/tiny/<family>.gguf with bench/serve/make_tiny_models.py (the gguf
# package, venv-gguf; set-up makes the same files with scripts/make-tiny-models.sh, which checks
# them against the references' sha256), then tests/serve/engine/data/tiny/<family>.json with
# bench/serve/make_tiny_reference.py
# (llama-cpp-python 0.3.36 through scripts/llamacpp-env.sh; compiled from source on first use,
# long on 2 cores).
# The vocabularies come from the SmolLM2 and Gemma 3 GGUFs (scripts/fetch-models.sh) and
# ../shared/models/stories260K.gguf.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gguf_py="$(scripts/python-env.sh gguf bench/serve/gguf_requirements.txt)"
llama_py="$(scripts/llamacpp-env.sh llamacpp bench/serve/requirements.txt)"
scripts/fetch-models.sh
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
out="$cache/models/tiny"
refs=tests/serve/engine/data/tiny
families=()
for f in "$@"; do families+=(--family "$f"); done
"$gguf_py" bench/serve/make_tiny_models.py --out "$out" "${families[@]}" \
  --smollm "$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" \
  --gemma "$cache/models/gemma-3-270m-Q4_K_M.gguf" \
  --stories ../shared/models/stories260K.gguf
if [ "$#" -eq 0 ]; then set -- qwen2 llama3 qwen3 phi3 gemma2 mistral; fi
models=()
for f in "$@"; do models+=("$out/$f.gguf"); done
"$llama_py" bench/serve/make_tiny_reference.py "${models[@]}" --out "$refs"
