#!/usr/bin/env bash
# make-tiny-models.sh: writes the tiny random-weight family models (qwen2, llama3, qwen3, phi3,
# gemma2, mistral; bench/serve/make_tiny_models.py, the `gguf` package from PyPI in a venv)
# into the model cache's tiny/ folder, and checks each against the sha256 its committed
# llama.cpp reference (tests/serve/engine/data/tiny/<family>.json) was made from. The models
# carry vocabularies taken from the SmolLM2 and Gemma 3 GGUFs (scripts/fetch-models.sh) and
# ../shared/models/stories260K.gguf, so they are made here at set-up time, never committed.
# Idempotent: models already there with the right checksum are kept.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
out="$cache/models/tiny"
refs=tests/serve/engine/data/tiny
stories=../shared/models/stories260K.gguf
families=(qwen2 llama3 qwen3 phi3 gemma2 mistral)

sha_ok() {  # sha_ok FAMILY: the model's sha256 is the one its reference names
  local f="$1" want have
  [ -s "$out/$f.gguf" ] || return 1
  want="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$refs/$f.json")"
  have="$(sha256sum "$out/$f.gguf" | cut -d' ' -f1)"
  [ "$want" = "$have" ]
}

todo=()
for f in "${families[@]}"; do sha_ok "$f" || todo+=(--family "$f"); done
if [ "${#todo[@]}" -eq 0 ]; then
  echo "make-tiny-models: present in $out" >&2
  exit 0
fi
if [ ! -f "$stories" ]; then
  echo "make-tiny-models: $stories absent; tiny family models not made (their tests skip)" >&2
  exit 0
fi
py="$(bash scripts/python-env.sh gguf bench/serve/gguf_requirements.txt)"
"$py" bench/serve/make_tiny_models.py --out "$out" "${todo[@]}" \
  --smollm "$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" \
  --gemma "$cache/models/gemma-3-270m-Q4_K_M.gguf" --stories "$stories" >&2
for f in "${families[@]}"; do
  if ! sha_ok "$f"; then
    echo "make-tiny-models: $out/$f.gguf: sha256 differs from the one $refs/$f.json was made" \
      "from (generator or gguf version changed?): rerun bench/serve/make_tiny_reference.sh" >&2
    exit 1
  fi
done
echo "make-tiny-models: wrote ${#families[@]} models to $out" >&2
