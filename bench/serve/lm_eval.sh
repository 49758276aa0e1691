#!/usr/bin/env bash
# lm-evaluation-harness (`lm-eval`, its local-completions model) scoring a loglikelihood task
# through `gearbox serve run` and through llama.cpp's OpenAI server (llama-cpp-python's
# llama_cpp.server), same model, same items, same threads, in one run; prints each accuracy
# with its standard error (docs/serve-eval.md has the numbers).
# The task is made here (bench/serve/lm_eval_task.py: a cloze over counting, days, months,
# letters, capitals and opposites; no dataset download). A model whose GGUF adds no BOS
# (SmolLM2) gets its BOS written before every context, so that llama-cpp-python's server pairs
# its echoed logprobs right (docs/serve-eval.md; EXPLICIT_BOS=0 leaves it out).
# Usage: bench/serve/lm_eval.sh GEARBOX_BINARY [MODEL.gguf ...]
#   (default models: SmolLM2-135M-Instruct-Q4_1 and gemma-3-270m-Q4_K_M from the model cache)
#   ITEMS=300 items, CHOICES=4 per item (2..4), LIMIT=N first items only, THREADS=2 per server,
#   SERVERS=gearbox,llama.cpp, OUT=lm_eval.json, LLAMA_STOCK=1 llama_cpp.server unchanged
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gb="$(realpath "${1:?usage: lm_eval.sh GEARBOX_BINARY [MODEL.gguf ...]}")"
shift
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  scripts/fetch-models.sh >&2
  models=("$cache/models/SmolLM2-135M-Instruct-Q4_1.gguf" "$cache/models/gemma-3-270m-Q4_K_M.gguf")
fi
# Both venvs hold llama-cpp-python, built without AMX where the CPU has it (llamacpp-env.sh).
eval_py="$(bash scripts/llamacpp-env.sh lmeval bench/serve/lm_eval_requirements.txt)"
llama_py="$(bash scripts/llamacpp-env.sh server-llamacpp bench/serve/server_load_llamacpp_requirements.txt)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$eval_py" bench/serve/lm_eval_task.py "$work/task" "${ITEMS:-300}" --choices "${CHOICES:-4}" >&2
extra=()
[ "${EXPLICIT_BOS:-1}" = 0 ] && extra+=(--no-explicit-bos)
[ -n "${LIMIT:-}" ] && extra+=(--limit "$LIMIT")
if [ "${LLAMA_STOCK:-0}" = 1 ]; then
  extra+=(--llama-stock)
else
  # llama.cpp's server runs through bench/serve/llama_cpp_topn.py (its whole-vocabulary
  # logprobs sort replaced by an exact top-N pick: 6x (SmolLM2) to 39x (Gemma 3) faster per
  # request, docs/serve-eval.md); first check that its responses are the stock server's on
  # each model.
  for m in "${models[@]}"; do "$llama_py" bench/serve/llama_cpp_topn.py --check "$m" >&2; done
fi
# Passive OpenMP waits for both servers (gearbox's sets it for itself; ggml's team otherwise
# spins, which starves a loaded machine: docs/serve-server.md).
OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 \
  "$eval_py" bench/serve/lm_eval_bench.py --gearbox "$gb" --llama-python "$llama_py" \
  --task-dir "$work/task" --threads "${THREADS:-2}" --servers "${SERVERS:-gearbox,llama.cpp}" \
  --out "${OUT:-lm_eval.json}" "${extra[@]}" "${models[@]}"
