#!/usr/bin/env bash
# Tour step: the CAP report on the embedded model, full attention beside StreamingLLM past the
# 512-token trained context (full refuses 1024; streaming serves it at constant memory).
set -euo pipefail
printf '\n==> gearbox serve cap-eval: what each long-context policy buys (stories260K)\n'
"$GB" serve cap-eval --model stories260K --trained-ctx 512 --lengths 256,1024 \
  --policy full --policy streaming:sink=4,window=128 --policy quant:int8
