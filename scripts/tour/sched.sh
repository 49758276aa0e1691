#!/usr/bin/env bash
# Tour step for the sched engine (Crius): a job's Cells, then the pai trace under three policies.
# $GB is the gearbox binary.
set -euo pipefail
GB="${GB:-build/release/apps/gearbox}"
printf '\n==> %s\n' "gearbox sched cells: bert-1.3B, batch 256, on the artifact's 1,280-GPU cluster"
"$GB" sched cells --model bert-1.3B --batch 256 --feasible | sed -n 1,16p
printf '\n==> %s\n' "gearbox sched simulate: the pai trace (125 jobs) under crius, fcfs and gavel"
"$GB" sched simulate --trace pai --policy crius,fcfs,gavel
printf '\n==> %s\n' "gearbox sched estimate-check: our cost model against the profiled times (held out)"
"$GB" sched estimate-check | sed -n 1,6p
