#!/usr/bin/env bash
# A Slurm cluster on this one machine, for the sched daemon's tests and tour:
#
#   scripts/slurm-local.sh up   --dir DIR [--nodes a100:2x4,v100:2x4] [--port-base P]
#                               [--slurmd-timeout S]
#   scripts/slurm-local.sh down --dir DIR
#
# `up` writes DIR/slurm.conf and DIR/gres.conf (typed fake GPUs: character devices made with
# mknod), starts its own munged (own key and socket), slurmctld and one `slurmd -N NODE` per
# node, all on 127.0.0.1 with ports from P (default: a free range picked at random), and waits
# until sinfo shows every node idle. Node names are TYPE-I (a100-0, a100-1, v100-0, ...); the
# partition is `gearbox`. slurmctld marks a node whose slurmd stopped answering DOWN after about
# two --slurmd-timeout periods (default 30 s; the fault tests use less). DIR/env holds `export SLURM_CONF=...` for the client tools.
# `down` stops everything `up` started, by the pids it recorded (slurmctld, slurmds, munged),
# escalating to SIGKILL; it is safe to run twice or after a failed `up`. Installs nothing:
# scripts/setup.sh installs slurm-wlm and munge. Needs root (slurmd runs jobs as their user).
set -euo pipefail

usage() {
  echo "usage: $0 up|down --dir DIR [--nodes TYPE:NxG,...] [--port-base P] [--slurmd-timeout S]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
action="$1"
shift
dir=""
nodes_spec="a100:2x4,v100:2x4"
port_base=""
slurmd_timeout=30
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="${2:?--dir needs a value}"; shift 2 ;;
    --nodes) nodes_spec="${2:?--nodes needs a value}"; shift 2 ;;
    --port-base) port_base="${2:?--port-base needs a value}"; shift 2 ;;
    --slurmd-timeout) slurmd_timeout="${2:?--slurmd-timeout needs a value}"; shift 2 ;;
    *) echo "slurm-local: unknown flag $1" >&2; usage ;;
  esac
done
[ -n "$dir" ] || { echo "slurm-local: --dir is required" >&2; usage; }
[[ "$slurmd_timeout" =~ ^[1-9][0-9]*$ ]] || {
  echo "slurm-local: --slurmd-timeout: expected whole seconds, found '$slurmd_timeout'" >&2
  exit 2
}

# Sends TERM to the pids in the given pid files at once, then KILL to those alive after 10 s;
# removes the files.
stop_pidfiles() {
  local f pid pids=()
  for f in "$@"; do
    [ -f "$f" ] || continue
    pid="$(cat "$f" 2>/dev/null || true)"
    rm -f "$f"
    case "$pid" in '' | *[!0-9]*) continue ;; esac
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  for _ in $(seq 1 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}

down() {
  [ -d "$dir" ] || return 0
  # Jobs first, while slurmctld is up.
  if [ -f "$dir/slurm.conf" ] && [ -f "$dir/run/slurmctld.pid" ]; then
    SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --quiet --partition gearbox \
      >/dev/null 2>&1 || true
  fi
  stop_pidfiles "$dir"/run/slurmd-*.pid "$dir/run/slurmctld.pid"
  # slurmstepd of jobs still alive (a test may have killed their slurmd): they carry this
  # cluster's SLURM_CONF in their environment.
  local p
  for p in $(pgrep -x slurmstepd || true); do
    if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "SLURM_CONF=$dir/slurm.conf"; then
      kill -KILL "$p" 2>/dev/null || true
    fi
  done
  stop_pidfiles "$dir/run/munged.pid"
}

if [ "$action" = down ]; then
  dir="$(cd "$dir" 2>/dev/null && pwd || echo "$dir")"
  down
  exit 0
fi
[ "$action" = up ] || usage

for tool in slurmctld slurmd sinfo munged mungekey mknod; do
  command -v "$tool" >/dev/null || PATH="$PATH:/usr/sbin:/sbin"
  command -v "$tool" >/dev/null || {
    echo "slurm-local: $tool not found (run scripts/setup.sh: slurm-wlm, munge)" >&2
    exit 1
  }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm-local: needs root (slurmd)" >&2; exit 1; }

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# A cluster left in DIR by an earlier run (a killed test command): stop it, start afresh.
if [ -d "$dir/run" ]; then
  down
  rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/run"
fi
# munged wants every directory above its socket searchable by all.
chmod 755 "$dir"
mkdir -p "$dir/munge" "$dir/run" "$dir/log" "$dir/state" "$dir/spool" "$dir/dev"
chmod 700 "$dir/munge"
chmod 755 "$dir/munge"

# Parse --nodes: TYPE:NxG entries.
types=()
counts=()
gpus=()
IFS=',' read -r -a entries <<<"$nodes_spec"
total_nodes=0
for e in "${entries[@]}"; do
  if [[ ! "$e" =~ ^([a-z0-9]+):([0-9]+)x([0-9]+)$ ]]; then
    echo "slurm-local: --nodes: expected TYPE:NODESxGPUS (a100:2x4), found '$e'" >&2
    exit 2
  fi
  types+=("${BASH_REMATCH[1]}")
  counts+=("${BASH_REMATCH[2]}")
  gpus+=("${BASH_REMATCH[3]}")
  total_nodes=$((total_nodes + BASH_REMATCH[2]))
done
[ "$total_nodes" -gt 0 ] || { echo "slurm-local: --nodes: no nodes" >&2; exit 2; }

# A port is free when no TCP socket uses it, listening or connected.
port_free() { ! ss -Htan "sport = :$1" 2>/dev/null | grep -q .; }
# Ports below the kernel's ephemeral range: a port inside it can be taken at any moment as the
# local port of an outgoing connection, and slurmctld restarted on it then fails to bind
# ("Address already in use").
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || ephemeral_low=32768
span=$(((ephemeral_low - 10000 - 64) / 16))
[ "$span" -gt 0 ] || { echo "slurm-local: no ports below the ephemeral range ($ephemeral_low); give --port-base" >&2; exit 1; }
if [ -z "$port_base" ]; then
  for _ in $(seq 1 50); do
    cand=$((10000 + (RANDOM % span) * 16))
    ok=1
    for ((k = 0; k <= total_nodes; ++k)); do port_free $((cand + k)) || { ok=0; break; }; done
    [ "$ok" -eq 1 ] && { port_base="$cand"; break; }
  done
  [ -n "$port_base" ] || { echo "slurm-local: no free port range found" >&2; exit 1; }
fi
ctld_port="$port_base"

# Fake GPU devices: character devices (a plain file makes slurmd log an error).
max_gpus=0
for g in "${gpus[@]}"; do [ "$g" -gt "$max_gpus" ] && max_gpus="$g"; done
for ((k = 0; k < max_gpus; ++k)); do
  [ -e "$dir/dev/gpu$k" ] || mknod "$dir/dev/gpu$k" c 1 3
done

cpus=$((max_gpus * 2))
{
  echo "# Written by scripts/slurm-local.sh: a local test cluster on 127.0.0.1."
  echo "ClusterName=gearbox$port_base"
  echo "SlurmctldHost=$(hostname -s)(127.0.0.1)"
  echo "SlurmctldPort=$ctld_port"
  echo "SlurmUser=root"
  echo "SlurmdUser=root"
  echo "AuthType=auth/munge"
  echo "CredType=cred/munge"
  echo "AuthInfo=socket=$dir/munge/munge.socket"
  echo "StateSaveLocation=$dir/state"
  echo "SlurmdSpoolDir=$dir/spool/%n"
  echo "SlurmctldPidFile=$dir/run/slurmctld.pid"
  echo "SlurmdPidFile=$dir/run/slurmd-%n.pid"
  echo "SlurmctldLogFile=$dir/log/slurmctld.log"
  echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
  echo "SlurmdParameters=config_overrides"
  echo "ProctrackType=proctrack/pgid"
  echo "TaskPlugin=task/none"
  echo "MpiDefault=none"
  echo "SelectType=select/cons_tres"
  echo "SelectTypeParameters=CR_Core"
  echo "GresTypes=gpu"
  echo "JobRequeue=0"
  echo "ReturnToService=2"
  echo "SlurmdTimeout=$slurmd_timeout"
  echo "MinJobAge=3600"
  echo "SchedulerParameters=sched_interval=1"
  echo "KillWait=5"
  echo "InactiveLimit=0"
  port=$((port_base + 1))
  for i in "${!types[@]}"; do
    t="${types[$i]}" n="${counts[$i]}" g="${gpus[$i]}"
    last=$((n - 1))
    echo "NodeName=$t-[0-$last] NodeAddr=127.0.0.1 Port=[$port-$((port + last))] CPUs=$cpus" \
      "RealMemory=1000 Gres=gpu:$t:$g State=UNKNOWN"
    port=$((port + n))
  done
  echo "PartitionName=gearbox Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
} >"$dir/slurm.conf"
{
  echo "AutoDetect=off"
  for i in "${!types[@]}"; do
    t="${types[$i]}" n="${counts[$i]}" g="${gpus[$i]}"
    echo "NodeName=$t-[0-$((n - 1))] Name=gpu Type=$t File=$dir/dev/gpu[0-$((g - 1))]"
  done
} >"$dir/gres.conf"
echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
export SLURM_CONF="$dir/slurm.conf"

# From here on a failure stops what was started.
trap 'echo "slurm-local: start failed; logs in $dir/log" >&2; down' ERR

mungekey --create --keyfile="$dir/munge/munge.key" --force 2>/dev/null ||
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$dir/munge/munge.key"
munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --log-file="$dir/log/munged.log" --pid-file="$dir/run/munged.pid" \
  --seed-file="$dir/munge/munged.seed"

slurmctld -i -f "$dir/slurm.conf"
for i in "${!types[@]}"; do
  for ((k = 0; k < counts[i]; ++k)); do
    slurmd -f "$dir/slurm.conf" -N "${types[$i]}-$k"
  done
done

# Wait until every node is idle.
for _ in $(seq 1 240); do
  states="$(sinfo -h -N -o '%N %t' 2>/dev/null | sort -u || true)"
  idle="$(grep -c ' idle$' <<<"$states" || true)"
  if [ "$idle" -eq "$total_nodes" ]; then
    echo "slurm-local: $total_nodes nodes idle (SLURM_CONF=$dir/slurm.conf, ports $port_base-$((port_base + total_nodes)))" >&2
    trap - ERR
    exit 0
  fi
  sleep 0.5
done
echo "slurm-local: nodes not idle after 120 s:" >&2
echo "$states" >&2
down
exit 1
