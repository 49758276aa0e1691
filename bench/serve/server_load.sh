#!/usr/bin/env bash
# Load benchmark of `gearbox serve run`, all on loopback:
#   1. latency and throughput at 1, 4, 16 and 64 concurrent clients (server --parallel 64);
#   2. continuous batching's gain: the same 16-client load against --parallel 1 (one sequence
#      decoded at a time, the single-stream anchor) and --parallel 16 (batched decode);
#   3. the stock `openai` Python client against the server (venv from scripts/python-env.sh).
# Usage: bench/serve/server_load.sh GEARBOX_BINARY [MODEL] [INPUT_LEN] [OUTPUT_LEN] [THREADS]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
gb="${1:?usage: server_load.sh GEARBOX_BINARY [MODEL] [INPUT_LEN] [OUTPUT_LEN] [THREADS]}"
model="${2:-stories260K}"
in_len="${3:-64}"
out_len="${4:-64}"
threads="${5:-2}"
work="$(mktemp -d)"
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

bench() {  # bench CLIENTS REQUESTS -> JSON on stdout
  "$gb" serve bench --url "$url" --requests "$2" --rate inf --concurrency "$1" \
    --input-len "$in_len" --output-len "$out_len" --seed 1 --json 2>/dev/null
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

echo "model $model, input $in_len tokens, output $out_len tokens, $threads threads, $(date -u +%FT%TZ)"
echo
echo "| clients | completed | req/s | output tok/s | TTFT ms median / p99 | TPOT ms median / p99 | ITL ms median / p99 | e2e ms median / p99 |"
echo "|---|---|---|---|---|---|---|---|"
start_server 64
for c in 1 4 16 64; do
  row "$c" "$(bench "$c" $((c * 2 > 8 ? c * 2 : 8)))"
done
stop_server

echo
echo "Batched decode against one sequence at a time (16 clients, 32 requests):"
echo
echo "| server | completed | req/s | output tok/s | TTFT ms median / p99 | TPOT ms median / p99 | ITL ms median / p99 | e2e ms median / p99 |"
echo "|---|---|---|---|---|---|---|---|"
start_server 1
single="$(bench 16 32)"
row "--parallel 1" "$single"
stop_server
start_server 16
batched="$(bench 16 32)"
row "--parallel 16" "$batched"
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
