#!/usr/bin/env bash
# Tour step for the sched engine on a real Slurm: a local two-node cluster in a temporary folder
# (scripts/slurm-local.sh), the Crius daemon, a few jobs of which one is preempted and resumed
# by the policy, the jobs list and the daemon's metrics; everything stopped by pid at the end,
# also on failure. Skipped with a line when not root or Slurm is not installed
# (scripts/setup.sh installs slurm-wlm and munge). $GB is the gearbox binary.
set -euo pipefail
GB="${GB:-build/release/apps/gearbox}"
GB="$(cd "$(dirname "$GB")" && pwd)/$(basename "$GB")"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  step "gearbox sched daemon on Slurm: skipped (needs root to run slurmd)"
  exit 0
fi
for tool in slurmctld slurmd sbatch munged; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    step "gearbox sched daemon on Slurm: skipped ($tool not installed; scripts/setup.sh installs slurm-wlm and munge)"
    exit 0
  fi
done

tmp="$(mktemp -d /tmp/gearbox-tour-slurm.XXXXXX)"
chmod 755 "$tmp"  # munged needs every folder above its socket searchable
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  bash "$root/scripts/slurm-local.sh" down --dir "$tmp/cluster" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

step "scripts/slurm-local.sh up: three nodes (2 x 4 A100, 4 V100) on 127.0.0.1"
bash "$root/scripts/slurm-local.sh" up --dir "$tmp/cluster" --nodes a100:2x4,v100:1x4
export SLURM_CONF="$tmp/cluster/slurm.conf"
sinfo --partition gearbox

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
step "gearbox sched daemon --slurm: Crius, a round every 0.5 s, 2000 estimated seconds per second"
"$GB" sched daemon --slurm --state "$tmp/state.sqlite" --listen "127.0.0.1:$port" \
  --policy crius --round-seconds 0.5 --time-scale 2000 --partition gearbox --grace 2 \
  >"$tmp/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 240); do
  "$GB" sched jobs --url "$url" >/dev/null 2>&1 && break
  sleep 0.25
done

step "gearbox sched submit: three jobs; when the short one ends, Crius regrows another"
"$GB" sched submit --url "$url" --model bert-760M --batch 128 --iterations 3000 --gpus 2
"$GB" sched submit --url "$url" --model bert-1.3B --batch 256 --iterations 1500 --gpus 4
"$GB" sched submit --url "$url" --model moe-690M --batch 256 --iterations 300 --gpus 2

# Until every job finished (at most 90 s).
for _ in $(seq 1 180); do
  left="$("$GB" sched jobs --url "$url" --json |
    python3 -c 'import json,sys; print(sum(j["state"] != "finished" for j in json.load(sys.stdin)["jobs"]))')"
  [ "$left" = 0 ] && break
  sleep 0.5
done

step "gearbox sched jobs: every job finished; attempts > 1 is a preemption the policy resumed"
"$GB" sched jobs --url "$url"
"$GB" sched jobs --url "$url" --json | python3 -c '
import json, sys
for j in json.load(sys.stdin)["jobs"]:
    trail = ", ".join("%s on %s %dx%d" % (a["state"], a["gpu_type"], a["hosts"], a["gpus_per_node"])
                      for a in j["attempts"])
    print("job %d %s: %s" % (j["id"], j["model"], trail))'

step "GET /metrics: jobs by state, rounds, placement changes, round CPU, Slurm calls"
python3 -c 'import sys,urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' \
  "$url/metrics" | grep -v '^#' | grep -v '_bucket'

step "scripts/slurm-local.sh down: the daemon and the cluster stopped by pid"
