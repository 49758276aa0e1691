#!/usr/bin/env bash
# Makes tests/serve/engine/data/tokenizer_families_reference.json once (commit it): llama.cpp's
# token ids for a fixed multilingual text on SmolLM2, Gemma 3 and the qwen2 / llama-bpe
# pre-tokenizers over SmolLM2's vocabulary, and the Jinja renderings of each model's chat template;
# and tests/serve/engine/data/special_tokens_reference.json: llama.cpp's ids for text prompts
# that spell special tokens, on stories260K, Gemma 3 and SmolLM2.
#   bench/serve/make_tokenizer_reference.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
py="$(bash scripts/python-env.sh tokref bench/serve/tokenizer_reference_requirements.txt)"
scripts/fetch-models.sh
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
"$py" bench/serve/tokenizer_reference.py "$cache/models" \
  tests/serve/engine/data/tokenizer_families_reference.json
llama_py="$(scripts/llamacpp-env.sh llamacpp bench/serve/requirements.txt)"
shared="$(cd .. && pwd)/shared/models"
"$llama_py" bench/serve/special_tokens_reference.py "$shared/stories260K.gguf" \
  "$cache/models/gemma-3-270m-Q4_K_M.gguf" "$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" \
  tests/serve/engine/data/special_tokens_reference.json
