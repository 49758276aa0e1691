#!/usr/bin/env bash
# Side by side in one run: llama.cpp (llama-cpp-python, built from source in a venv) and
# gearbox on the same GGUF with the same threads; prefill 512 and decode 128 tokens.
#   bench/serve/compare_llamacpp.sh [BUILD_DIR] [MODEL]
# BUILD_DIR holds bench/serve/serve_engine_bench (default build/release); MODEL a name or path
# (default SmolLM2-135M-Instruct-Q4_1); THREADS (default "1 2"), REPS (default 3), ROUNDS
# (default 3) and KV (gearbox's KV cache type, default f16 as llama.cpp's default cache; f32
# for float) from the environment. Each round runs llama.cpp then gearbox at every thread
# count (REPS measured repetitions each, their median), so a stretch of other load on this
# shared machine hits both engines of a round; the table gives each engine's median over the
# rounds and the median of the per-round ratios (paired), the process CPU time per token of
# each (less disturbed by other load) and the decode bandwidth floor. The JSON lines (with
# their round) go to bench-serve-engine.jsonl in the cache.
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
for round in $(seq 1 "${ROUNDS:-3}"); do
  for t in ${THREADS:-1 2}; do
    "$py" bench/serve/llamacpp_speed.py "$path" "$t" 512 128 "$reps" \
      | "$py" -c 'import json,sys; r=json.load(sys.stdin); r["round"]=int(sys.argv[1]); print(json.dumps(r))' "$round" \
      | tee -a "$out" >&2
    "$build/bench/serve/serve_engine_bench" "$path" --threads "$t" --prefill 512 --decode 128 --reps "$reps" --kv "${KV:-f16}" \
      | "$py" -c 'import json,sys; r=json.load(sys.stdin); r["round"]=int(sys.argv[1]); print(json.dumps(r))' "$round" \
      | tee -a "$out" >&2
  done
done
"$py" - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["engine"], r["threads"], r["round"]): r for r in rows}
rounds = sorted({r["round"] for r in rows})
med = statistics.median
print(f"{len(rounds)} rounds; per engine the median over rounds, ratio = median of the per-round ratios")
print(f"{'threads':>7} {'phase':>8} {'llama.cpp tok/s':>16} {'gearbox tok/s':>14} {'ratio':>6} "
      f"{'per-round ratios':>24} {'llama.cpp cpu ms/tok':>21} {'gearbox cpu ms/tok':>19} "
      f"{'cpu ratio':>9} {'floor tok/s':>12}")
for t in sorted({r["threads"] for r in rows}):
    for phase in ("prefill", "decode"):
        key, ckey = phase + "_tok_s", phase + "_cpu_ms_per_tok"
        ls = [by[("llama.cpp", t, k)] for k in rounds]
        gs = [by[("gearbox", t, k)] for k in rounds]
        ratios = [g[key] / l[key] for l, g in zip(ls, gs)]
        cratios = [l[ckey] / g[ckey] for l, g in zip(ls, gs)]
        floor = f"{med([g['decode_floor_tok_s'] for g in gs]):.0f}" if phase == "decode" else "-"
        each = " ".join(f"{x:.2f}" for x in ratios)
        print(f"{t:>7} {phase:>8} {med([l[key] for l in ls]):>16.1f} {med([g[key] for g in gs]):>14.1f} "
              f"{med(ratios):>6.2f} {each:>24} {med([l[ckey] for l in ls]):>21.2f} "
              f"{med([g[ckey] for g in gs]):>19.2f} {med(cratios):>9.2f} {floor:>12}")
print("ratio: gearbox/llama.cpp tok/s; cpu ratio: llama.cpp/gearbox CPU time per token "
      "(> 1: gearbox uses less)")
g = next(r for r in rows if r["engine"] == "gearbox")
print(f"KV cache: llama.cpp f16 (its default), gearbox {g.get('kv', 'f32')}")
print(f"decode floor: {g['weight_bytes_per_token'] / 1e6:.1f} MB of weights per token / "
      f"{med([r['mem_bw_gbs'] for r in rows if r['engine'] == 'gearbox']):.1f} GB/s measured triad bandwidth (median)")
PY
