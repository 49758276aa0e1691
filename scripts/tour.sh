#!/usr/bin/env bash
# The main job: set up, build, then a short tour of the three engines on embedded defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build.sh
gb=build/release/apps/gearbox

step() { printf '\n==> %s\n' "$*"; }

step "gearbox doctor: this build and this machine"
"$gb" doctor

# Engine steps are added below as the engines land (one script per engine in scripts/tour/).
for t in scripts/tour/*.sh; do
  [ -e "$t" ] || continue
  GB="$gb" bash "$t"
done
