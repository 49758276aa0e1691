#!/usr/bin/env bash
# Side by side in one run: llama.cpp (llama-cpp-python, built from source in a venv) and
# gearbox on the same GGUF with the same threads; prefill 512 and decode 128 tokens.
#   bench/serve/compare_llamacpp.sh [BUILD_DIR] [MODEL]
# BUILD_DIR holds bench/serve/serve_engine_bench (default build/release); MODEL a name or path
# (default SmolLM2-135M-Instruct-Q4_1); THREADS (default "1 2"), REPS (default 3) and KV
# (gearbox's KV cache type, default f16 as llama.cpp's default cache; f32 for float) from the
# environment. Prints a table with tok/s, the ratio gearbox/llama.cpp, the process CPU time
# per token of each (less disturbed by other load on a shared machine) and the decode
# bandwidth floor; the JSON lines go to bench-serve-engine.jsonl in the cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build="${1:-build/release}"
model="${2:-SmolLM2-135M-Instruct-Q4_1}"
py="$(scripts/llamacpp-env.sh llamacpp bench/serve/requirements.txt)"
scripts/fetch-models.sh
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
path="$model"
[ -f "$path" ] || path="$cache/models/$model.gguf"
out="$cache/bench-serve-engine.jsonl"
: > "$out"
reps="${REPS:-3}"
for t in ${THREADS:-1 2}; do
  "$py" bench/serve/llamacpp_speed.py "$path" "$t" 512 128 "$reps" | tee -a "$out" >&2
  "$build/bench/serve/serve_engine_bench" "$path" --threads "$t" --prefill 512 --decode 128 --reps "$reps" --kv "${KV:-f16}" \
    | tee -a "$out" >&2
done
"$py" - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["engine"], r["threads"]): r for r in rows}
print(f"{'threads':>7} {'phase':>8} {'llama.cpp tok/s':>16} {'gearbox tok/s':>14} {'ratio':>6} "
      f"{'llama.cpp cpu ms/tok':>21} {'gearbox cpu ms/tok':>19} {'cpu ratio':>9} {'floor tok/s':>12}")
for t in sorted({r["threads"] for r in rows}):
    l, g = by[("llama.cpp", t)], by[("gearbox", t)]
    for phase in ("prefill", "decode"):
        key, ckey = phase + "_tok_s", phase + "_cpu_ms_per_tok"
        floor = f"{g['decode_floor_tok_s']:.0f}" if phase == "decode" else "-"
        print(f"{t:>7} {phase:>8} {l[key]:>16.1f} {g[key]:>14.1f} {g[key] / l[key]:>6.2f} "
              f"{l[ckey]:>21.2f} {g[ckey]:>19.2f} {l[ckey] / g[ckey]:>9.2f} {floor:>12}")
print("ratio: gearbox/llama.cpp tok/s; cpu ratio: llama.cpp/gearbox CPU time per token "
      "(> 1: gearbox uses less)")
g = next(r for r in rows if r["engine"] == "gearbox")
print(f"KV cache: llama.cpp f16 (its default), gearbox {g.get('kv', 'f32')}")
print(f"decode floor: {g['weight_bytes_per_token'] / 1e6:.1f} MB of weights per token / "
      f"{g['mem_bw_gbs']:.1f} GB/s measured triad bandwidth")
PY
