#!/usr/bin/env bash
# gearbox's server beside llama.cpp's own `llama-server` (continuous batching, 16 slots), same
# model, same threads, same client, same run, all on loopback:
#   1. shared prefix: a 2,000-token system prompt shared by every request plus 16 distinct
#      tokens, 16 concurrent clients, one request each (after one untimed warm-up request with
#      the same system prompt), 16 tokens out (bench/serve/kv_workloads.py): gearbox with prefix
#      caching on and off (--no-prefix-cache), llama-server `-np 16 -cb` with its prompt cache on;
#   2. input 128 words / output 64 tokens (`gearbox serve bench --text-prompts`) at 1 and 16
#      clients against both.
# llama-server is built once by bench/serve/llama_server_build.sh (llama.cpp vendored in the
# llama-cpp-python sdist). Both servers get THREADS threads, passive OpenMP waits and
# CTX_PER_SLOT tokens of context per sequence (llama-server: -c 16 x CTX_PER_SLOT; gearbox:
# --max-model-len CTX_PER_SLOT). Each row is a fresh server. Prints markdown tables with the
# ratios gearbox / llama-server and the load average.
# Usage: bench/serve/llama_server_load.sh GEARBOX_BINARY [MODEL] [THREADS]
#   env: SKIP_SHARED=1, SKIP_LOAD=1, SKIP_PREFIX_OFF=1 (the slow no-cache row), CTX_PER_SLOT
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gb="${1:?usage: llama_server_load.sh GEARBOX_BINARY [MODEL] [THREADS]}"
model="${2:-SmolLM2-135M-Instruct-Q4_1}"
threads="${3:-2}"
slots=16
ctx_slot="${CTX_PER_SLOT:-4096}"
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
gguf="$model"
case "$gguf" in
  *.gguf) ;;
  *) gguf="$cache/models/$model.gguf" ;;
esac
[ -f "$gguf" ] || { echo "llama_server_load: no $gguf (scripts/fetch-models.sh fetches it)" >&2; exit 2; }
llama="$(bash bench/serve/llama_server_build.sh)"
work="$(mktemp -d)"
export OMP_WAIT_POLICY=passive  # as `gearbox serve run` sets for itself (docs/serve-server.md)
pid=""
stop_server() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

start_gearbox() {  # start_gearbox ARGS... -> sets $url, $pid
  : >"$work/server.log"
  "$gb" serve run --model "$model" --port 0 --threads "$threads" --parallel "$slots" \
    --max-queue 256 --max-model-len "$ctx_slot" --kv-budget 4G "$@" 2>"$work/server.log" &
  pid=$!
  url=""
  for _ in $(seq 1 600); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n1 || true)"
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "gearbox did not start" >&2
  exit 1
}

start_llama() {  # llama-server, 16 slots, continuous batching, prompt cache on -> $url, $pid
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  "$llama" -m "$gguf" --host 127.0.0.1 --port "$port" -t "$threads" -tb "$threads" \
    -np "$slots" -cb -c $((slots * ctx_slot)) --cache-prompt --no-webui \
    >"$work/llama.log" 2>&1 &
  pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 1200); do
    curl -sf "$url/health" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/llama.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "llama-server did not start" >&2
  exit 1
}

shared() {  # shared LABEL -> one JSON line in $work/shared.jsonl
  python3 bench/serve/kv_workloads.py shared-prefix --url "$url" --pid "$pid" --clients 16 \
    --per-client 1 --prefix-len 2000 --suffix-len 16 --output-len 16 |
    python3 -c 'import json,sys; j=json.load(sys.stdin); j["label"]=sys.argv[1]; print(json.dumps(j))' "$1" \
      >>"$work/shared.jsonl"
  tail -n1 "$work/shared.jsonl" >&2
}

load() {  # load LABEL CLIENTS REQUESTS -> one JSON line in $work/load.jsonl
  "$gb" serve bench --url "$url" --requests "$3" --rate inf --concurrency "$2" --input-len 128 \
    --output-len 64 --seed 1 --text-prompts --json 2>/dev/null |
    python3 -c 'import json,sys; j=json.load(sys.stdin); j["label"]=sys.argv[1]; j["clients"]=int(sys.argv[2]); print(json.dumps(j))' "$1" "$2" \
      >>"$work/load.jsonl"
  tail -n1 "$work/load.jsonl" >&2
}

echo "model $model ($gguf), $threads threads, $slots slots x $ctx_slot tokens, $(date -u +%FT%TZ)"
echo "llama-server: $llama ($("$llama" --version 2>&1 | grep -m1 -i version || true))"
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${SKIP_SHARED:-0}" != 1 ]; then
  start_gearbox
  shared "gearbox, prefix cache on"
  stop_server
  start_llama
  shared "llama-server -np 16 -cb"
  grep -m3 -E "n_ctx_slot|n_ctx_seq|kv_unified|prompt cache" "$work/llama.log" >&2 || true
  stop_server
  if [ "${SKIP_PREFIX_OFF:-0}" != 1 ]; then
    start_gearbox --no-prefix-cache
    shared "gearbox, prefix cache off"
    stop_server
  fi
  echo "load average after the shared-prefix rows: $(cut -d' ' -f1-3 /proc/loadavg)"
fi
if [ "${SKIP_LOAD:-0}" != 1 ]; then
  for c in 1 16; do
    n=$((c == 1 ? 8 : 32))
    start_gearbox
    load gearbox "$c" "$n"
    stop_server
    start_llama
    load llama-server "$c" "$n"
    stop_server
  done
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

python3 - "$work/shared.jsonl" "$work/load.jsonl" <<'PY'
import json, os, sys
rows = lambda p: [json.loads(l) for l in open(p)] if os.path.exists(p) else []
shared, load = rows(sys.argv[1]), rows(sys.argv[2])
if shared:
    print("\nShared prefix, 16 clients (2,000-token system prompt + 16 distinct tokens, 16 out):\n")
    print("| server | completed | TTFT median s | TTFT p90 s | output tok/s | TPOT median ms | cached prompt tokens | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for j in shared:
        print(f"| {j['label']} | {j['completed']}/{j['requests']} | {j['ttft_median_s']} | {j['ttft_p90_s']} | "
              f"{j['output_tok_s']} | {j['tpot_median_ms']} | {j['cached_prompt_tokens']} | {j['wall_s']} |")
    by = {j["label"]: j for j in shared}
    on, off = by.get("gearbox, prefix cache on"), by.get("gearbox, prefix cache off")
    ll = by.get("llama-server -np 16 -cb")
    if on and off and on["ttft_median_s"]:
        print(f"\nTTFT median, prefix cache off / on: {off['ttft_median_s'] / on['ttft_median_s']:.1f}x")
    if on and ll:
        print(f"gearbox (cache on) / llama-server: output tok/s {on['output_tok_s'] / ll['output_tok_s']:.2f}x, "
              f"TTFT median {on['ttft_median_s'] / ll['ttft_median_s']:.2f}x, "
              f"TPOT median {on['tpot_median_ms'] / ll['tpot_median_ms']:.2f}x")
if load:
    print("\nInput 128 words, output 64 tokens:\n")
    print("| clients | server | completed | output tok/s | TTFT ms median / p99 | TPOT ms median / p99 | e2e ms median |")
    print("|---|---|---|---|---|---|---|")
    for j in load:
        print(f"| {j['clients']} | {j['label']} | {j['completed']}/{j['completed'] + j['failed']} | {j['output_tok_s']:.1f} | "
              f"{j['ttft_ms']['median']:.0f} / {j['ttft_ms']['p99']:.0f} | {j['tpot_ms']['median']:.1f} / {j['tpot_ms']['p99']:.1f} | "
              f"{j['e2e_ms']['median']:.0f} |")
    for c in sorted({j["clients"] for j in load}):
        g = [j for j in load if j["clients"] == c and j["label"] == "gearbox"]
        l = [j for j in load if j["clients"] == c and j["label"] == "llama-server"]
        if g and l:
            g, l = g[0], l[0]
            print(f"\n{c} clients, gearbox / llama-server: output tok/s {g['output_tok_s'] / l['output_tok_s']:.2f}x, "
                  f"TTFT median {g['ttft_ms']['median'] / l['ttft_ms']['median']:.2f}x, "
                  f"TPOT median {g['tpot_ms']['median'] / l['tpot_ms']['median']:.2f}x")
PY
