#!/usr/bin/env bash
# Tour step: the serve engine generates a story with the embedded stories260K model (greedy),
# then SmolLM2-135M-Instruct answers a question when set-up fetched it.
set -euo pipefail
gb="${GB:?GB must name the gearbox binary}"
printf '\n==> %s\n' "gearbox serve generate: stories260K, greedy, 64 tokens"
"$gb" serve generate --model stories260K --prompt "" -n 64 --temp 0
if "$gb" serve generate --model SmolLM2-135M-Instruct-Q4_1 --prompt "" -n 0 >/dev/null 2>&1; then
  printf '\n==> %s\n' "gearbox serve generate: SmolLM2-135M-Instruct (Q4_1), chat, greedy"
  "$gb" serve generate --model SmolLM2-135M-Instruct-Q4_1 --chat \
    --prompt "What is the capital of Germany?" -n 32 --temp 0
fi
