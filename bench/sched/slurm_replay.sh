#!/usr/bin/env bash
# The simulator against a real Slurm cluster: a replay of a trace's first jobs on a local
# cluster (scripts/slurm-local.sh in a temporary directory), once per policy with the daemon
# restarted on a fresh state, measured metrics beside the simulator's prediction.
#
#   bench/sched/slurm_replay.sh [--jobs 30] [--trace philly] [--time-scale 6000]
#       [--round-seconds 0.5] [--nodes a100:4x4,a40:4x4] [--policies crius,fcfs] [--out DIR]
#
# Writes DIR/<policy>.json (`gearbox sched replay --json`), DIR/<policy>.metrics (the daemon's
# /metrics after the run), DIR/<policy>.daemon.log and DIR/summary.txt. Brings the cluster down
# and stops the daemon by pid on exit, also on failure. Needs root and slurm-wlm + munge
# (scripts/setup.sh) and a built gearbox (GEARBOX=path, default build/release/apps/gearbox).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
gearbox="${GEARBOX:-$root/build/release/apps/gearbox}"
jobs=30
trace=philly
scale=6000
round=0.5
nodes="a100:4x4,a40:4x4"
policies="crius,fcfs"
out="$root/build/bench-slurm-replay"
while [ $# -gt 0 ]; do
  case "$1" in
    --jobs) jobs="$2"; shift 2 ;;
    --trace) trace="$2"; shift 2 ;;
    --time-scale) scale="$2"; shift 2 ;;
    --round-seconds) round="$2"; shift 2 ;;
    --nodes) nodes="$2"; shift 2 ;;
    --policies) policies="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "slurm_replay: unknown flag $1" >&2; exit 2 ;;
  esac
done
[ -x "$gearbox" ] || { echo "slurm_replay: no gearbox binary at $gearbox" >&2; exit 2; }
mkdir -p "$out"
out="$(cd "$out" && pwd)"
tmp="$(mktemp -d /tmp/gearbox-slurm-replay.XXXXXX)"
chmod 755 "$tmp"  # munged needs every folder above its socket searchable
daemon_pid=""

stop_daemon() {
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=""
  fi
}
cleanup() {
  stop_daemon
  bash "$root/scripts/slurm-local.sh" down --dir "$tmp/cluster" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

bash "$root/scripts/slurm-local.sh" up --dir "$tmp/cluster" --nodes "$nodes"
export SLURM_CONF="$tmp/cluster/slurm.conf"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(lscpu | grep -m1 'Model name' | sed 's/ *Model name: *//'), $(nproc) cores"
  echo "nodes: $nodes; trace $trace, first $jobs jobs; time scale $scale; round $round s"
} >"$out/summary.txt"
for policy in ${policies//,/ }; do
  port="$(free_port)"
  "$gearbox" sched daemon --slurm --state "$tmp/$policy.sqlite" --listen "127.0.0.1:$port" \
    --policy "$policy" --round-seconds "$round" --time-scale "$scale" --partition gearbox \
    >"$out/$policy.daemon.log" 2>&1 &
  daemon_pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 240); do
    "$gearbox" sched jobs --url "$url" >/dev/null 2>&1 && break
    sleep 0.25
  done
  echo "slurm_replay: $policy (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  echo "load before $policy: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/summary.txt"
  "$gearbox" sched replay --url "$url" --trace "$trace" --jobs "$jobs" --time-scale "$scale" \
    --json >"$out/$policy.json"
  python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' \
    "$url/metrics" >"$out/$policy.metrics"
  stop_daemon
done
python3 - "$out" ${policies//,/ } >>"$out/summary.txt" <<'PY'
import json, sys
out, policies = sys.argv[1], sys.argv[2:]
rows = {}
print(f"{'policy':8} {'finished':>9} {'avg JCT h meas':>15} {'avg JCT h sim':>14} {'ratio':>6} "
      f"{'makespan h meas':>16} {'makespan h sim':>15} {'start lat s':>11} {'wall s':>7} "
      f"{'round cpu ms avg/max':>21}")
for p in policies:
    d = json.load(open(f"{out}/{p}.json"))
    c = d["compare"][p]
    m = {}
    for line in open(f"{out}/{p}.metrics"):
        if line.startswith("gearbox_sched_round_cpu_seconds_sum"): m["sum"] = float(line.split()[1])
        if line.startswith("gearbox_sched_round_cpu_seconds_count"): m["n"] = float(line.split()[1])
        if line.startswith("gearbox_sched_round_cpu_max_seconds"): m["max"] = float(line.split()[1])
    cpu = f"{1e3 * m['sum'] / max(m['n'], 1):.1f}/{1e3 * m['max']:.1f}" if m else "-"
    rows[p] = c["avg_jct_s"]
    print(f"{p:8} {c['finished']['measured']:>4.0f}/{c['finished']['simulated']:<4.0f} "
          f"{c['avg_jct_s']['measured'] / 3600:>15.2f} {c['avg_jct_s']['simulated'] / 3600:>14.2f} "
          f"{c['avg_jct_s']['ratio']:>6.3f} {c['makespan_s']['measured'] / 3600:>16.2f} "
          f"{c['makespan_s']['simulated'] / 3600:>15.2f} {d['replay']['start_latency_s']:>11.2f} "
          f"{d['replay']['wall_s']:>7.1f} {cpu:>21}")
if "crius" in rows and "fcfs" in rows:
    jobs = {p: json.load(open(f"{out}/{p}.json"))["jobs"] for p in ("crius", "fcfs")}
    for k in ("measured", "simulated"):
        print(f"crius vs fcfs avg JCT ({k}, each policy's finished jobs): "
              f"{rows['fcfs'][k] / rows['crius'][k]:.3f}x")
        key = f"{k}_jct_s"
        common = [i for i in range(len(jobs["crius"]))
                  if jobs["crius"][i][key] >= 0 and jobs["fcfs"][i][key] >= 0]
        avg = {p: sum(jobs[p][i][key] for i in common) / max(len(common), 1) for p in jobs}
        print(f"  common jobs ({len(common)}): crius {avg['crius'] / 3600:.2f} h, fcfs "
              f"{avg['fcfs'] / 3600:.2f} h, fcfs/crius {avg['fcfs'] / max(avg['crius'], 1e-9):.3f}x")
PY
cat "$out/summary.txt"
