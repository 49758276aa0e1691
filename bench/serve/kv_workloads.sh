#!/usr/bin/env bash
# The KV workloads of docs/serve-server.md ("One owner of KV memory"), all on loopback:
#   1. shared prefix: a 2,000-token system prompt shared by every request, 16-token distinct
#      questions, 16 concurrent clients, one request each, 16 tokens out; prefix caching on, then
#      off (--no-prefix-cache), same prompts.
#   2. mixed policies: full, streaming:window=256 and quant:int8 requests at once (32 clients,
#      64-token prompts, 192 tokens out) at a --kv-budget holding a fraction of their worst
#      cases; completed, failed, preemptions, sequences running (sampled), resident KV (the
#      gauge) and the server's RSS; first with --kv-admission reserve (worst cases reserved,
#      the "before"), then ondemand (admission on current need with preemption, the "after").
# SKIP_SHARED=1 or SKIP_MIXED=1 skip a part.
# Usage: bench/serve/kv_workloads.sh GEARBOX_BINARY [MODEL] [THREADS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gb="${1:?usage: kv_workloads.sh GEARBOX_BINARY [MODEL] [THREADS]}"
model="${2:-SmolLM2-135M-Instruct-Q4_1}"
threads="${3:-2}"
work="$(mktemp -d)"
pid=""
stop_server() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

start_server() {  # start_server ARGS... -> sets $url
  : >"$work/server.log"
  "$gb" serve run --model "$model" --port 0 --threads "$threads" --max-queue 256 "$@" \
    2>"$work/server.log" &
  pid=$!
  for _ in $(seq 1 600); do
    if grep -q "on http://" "$work/server.log"; then break; fi
    sleep 0.1
  done
  url="$(grep -o 'http://[0-9.:]*' "$work/server.log" | head -1)"
  [ -n "$url" ] || { cat "$work/server.log"; exit 1; }
}
metric() {  # metric NAME -> value from /metrics
  curl -s "$url/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

if [ "${SKIP_SHARED:-0}" != 1 ]; then
echo "== shared prefix (2,000-token system prompt, 16 clients)"
for mode in on off; do
  extra=()
  [ "$mode" = off ] && extra=(--no-prefix-cache)
  start_server --parallel 16 --kv-budget 4G "${extra[@]}"
  python3 bench/serve/kv_workloads.py shared-prefix --url "$url" --pid "$pid" --clients 16 \
    --per-client 1 --prefix-len 2000 --suffix-len 16 --output-len 16 |
    sed "s/^/prefix-cache $mode: /"
  echo "prefix-cache $mode: hits $(metric gearbox_prefix_cache_hits_total) of $(metric gearbox_prefix_cache_queries_total) prompt tokens"
  stop_server
done
fi
[ "${SKIP_MIXED:-0}" = 1 ] && exit 0

echo "== mixed policies (full, streaming:window=256, quant:int8; 32 clients)"
budget="${MIXED_BUDGET:-64M}"
for admission in reserve ondemand; do
  start_server --parallel 32 --kv-budget "$budget" --kv-admission "$admission"
  python3 bench/serve/kv_workloads.py mixed --url "$url" --pid "$pid" --clients 32 \
    --per-client 1 --prompt-len 64 --output-len 192 |
    sed "s/^/mixed at $budget, $admission: /" || true
  echo "mixed at $budget, $admission: preemptions $(metric gearbox_preemptions_total), errors $(metric 'gearbox_requests_total{finish_reason="error"}')"
  stop_server
done
