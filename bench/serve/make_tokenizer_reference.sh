#!/usr/bin/env bash
# Makes tests/serve/engine/data/tokenizer_families_reference.json once (commit it): llama.cpp's
# token ids for a fixed multilingual text on SmolLM2, Gemma 3 and the qwen2 / llama-bpe
# pre-tokenizers over SmolLM2's vocabulary, and the Jinja renderings of each model's chat template.
#   bench/serve/make_tokenizer_reference.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
py="$(bash scripts/python-env.sh tokref bench/serve/tokenizer_reference_requirements.txt)"
scripts/fetch-models.sh
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
"$py" bench/serve/tokenizer_reference.py "$cache/models" \
  tests/serve/engine/data/tokenizer_families_reference.json
