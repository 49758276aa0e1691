#!/usr/bin/env bash
# Load benchmark of `gearbox serve run`, all on loopback:
#   1. latency and throughput at 1, 4, 16 and 64 concurrent clients (server --parallel 64);
#   2. continuous batching's gain: the same 16-client load against --parallel 1 (one sequence
#      decoded at a time, the single-stream anchor) and --parallel 16 (batched decode);
#   3. the stock `openai` Python client against the server (venv from scripts/python-env.sh).
# With ANCHOR=1 (the default when the model's .gguf is found), each row of 1. is followed by
# the same load against llama.cpp's OpenAI server (llama-cpp-python's llama_cpp.server, venv
# from bench/serve/server_load_llamacpp_requirements.txt, same threads, passive OpenMP waits
# like gearbox's server), in the same run.
# Prompts are the same fixed-seed text for both (--text-prompts); each request asks for exactly
# OUTPUT_LEN tokens (min_tokens). SKIP_OPENAI=1 skips 3.
# Usage: bench/serve/server_load.sh GEARBOX_BINARY [MODEL] [INPUT_LEN] [OUTPUT_LEN] [THREADS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gb="${1:?usage: server_load.sh GEARBOX_BINARY [MODEL] [INPUT_LEN] [OUTPUT_LEN] [THREADS]}"
model="${2:-stories260K}"
in_len="${3:-64}"
out_len="${4:-64}"
threads="${5:-2}"
work="$(mktemp -d)"
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
anchor_gguf="${ANCHOR_GGUF:-}"
if [ -z "$anchor_gguf" ]; then
  for g in "$model" "$cache/models/$model.gguf" "${GEARBOX_MODELS:-$PWD/../shared/models}/$model.gguf"; do
    case "$g" in *.gguf) [ -f "$g" ] && anchor_gguf="$g" && break ;; esac
  done
fi
anchor="${ANCHOR:-$([ -n "$anchor_gguf" ] && echo 1 || echo 0)}"
pid=""
stop_server() {
  if [ -n "$pid" ]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT

start_server() {  # start_server PARALLEL -> sets $url
  "$gb" serve run --model "$model" --port 0 --parallel "$1" --max-queue 256 \
    --threads "$threads" 2>"$work/server.log" &
  pid=$!
  url=""
  for _ in $(seq 1 600); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n1 || true)"
    [ -n "$url" ] && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "server did not start" >&2
  exit 1
}

start_anchor() {  # llama.cpp's server on the same model and threads -> sets $url
  local py
  py="$(bash scripts/python-env.sh server-llamacpp bench/serve/server_load_llamacpp_requirements.txt)"
  local port
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  # Passive OpenMP waits, as `gearbox serve run` sets for itself: ggml's OpenMP team spins
  # otherwise, which on a loaded machine made llama.cpp ~9x slower (docs/serve-server.md).
  OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}" "$py" -m llama_cpp.server --model "$anchor_gguf" --host 127.0.0.1 --port "$port" \
    --n_threads "$threads" --n_threads_batch "$threads" --n_ctx 2048 --verbose False \
    --interrupt_requests False \
    >"$work/anchor.log" 2>&1 &
  pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 600); do
    curl -sf "$url/v1/models" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$work/anchor.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "llama.cpp server did not start" >&2
  exit 1
}

bench() {  # bench CLIENTS REQUESTS -> JSON on stdout
  "$gb" serve bench --url "$url" --requests "$2" --rate inf --concurrency "$1" \
    --input-len "$in_len" --output-len "$out_len" --seed 1 --text-prompts --json 2>/dev/null
}

row() {  # row LABEL JSON
  python3 - "$1" "$2" <<'PY'
import json, sys
label, j = sys.argv[1], json.loads(sys.argv[2])
f = lambda d: f"{d['median']:.1f} / {d['p99']:.1f}"
print(f"| {label} | {j['completed']}/{j['completed'] + j['failed']} | {j['request_throughput']:.2f} | "
      f"{j['output_tok_s']:.1f} | {f(j['ttft_ms'])} | {f(j['tpot_ms'])} | {f(j['itl_ms'])} | {f(j['e2e_ms'])} |")
PY
}

echo "model $model, input $in_len words, output $out_len tokens, $threads threads, $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| clients | server | completed | req/s | output tok/s | TTFT ms median / p99 | TPOT ms median / p99 | ITL ms median / p99 | e2e ms median / p99 |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in 1 4 16 64; do
  n=$((c * 2 > 8 ? c * 2 : 8))
  start_server 64
  row "$c | gearbox" "$(bench "$c" "$n")"
  stop_server
  if [ "$anchor" = "1" ]; then
    start_anchor
    row "$c | llama.cpp" "$(bench "$c" "$n")"
    stop_server
  fi
done
echo "(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"

echo
echo "Batched decode against one sequence at a time (16 clients, 32 requests):"
echo
echo "| server | | completed | req/s | output tok/s | TTFT ms median / p99 | TPOT ms median / p99 | ITL ms median / p99 | e2e ms median / p99 |"
echo "|---|---|---|---|---|---|---|---|---|"
start_server 1
single="$(bench 16 32)"
row "--parallel 1 | gearbox" "$single"
stop_server
start_server 16
batched="$(bench 16 32)"
row "--parallel 16 | gearbox" "$batched"
stop_server
python3 - "$single" "$batched" <<'PY'
import json, sys
s, b = (json.loads(x) for x in sys.argv[1:])
print(f"\nbatched / single-stream output tok/s: {b['output_tok_s'] / s['output_tok_s']:.2f}x")
PY

if [ "${SKIP_OPENAI:-0}" != "1" ]; then
  echo
  echo "Stock openai client:"
  py="$(bash scripts/python-env.sh server-openai bench/serve/server_requirements.txt)"
  start_server 16
  "$py" bench/serve/server_openai_client.py "$url" --clients 16 --max-tokens 32
  stop_server
fi
