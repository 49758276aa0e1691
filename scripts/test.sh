#!/usr/bin/env bash
# The whole test suite from a fresh clone: set up, build, run every test with CTest, in
# parallel and in random order. Under CI=true the suite runs twice (an order or sharing
# dependence between tests shows up) and GEARBOX_REQUIRE_DATA=1 turns a missing shared file or
# model into a failure, so a green CI means the golden tests ran.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build.sh
runs=1
if [ "${CI:-}" = "true" ]; then
  runs=2
  export GEARBOX_REQUIRE_DATA=1
fi
for run in $(seq "$runs"); do
  echo "test: CTest run $run of $runs (parallel, random order)" >&2
  # Idle OpenMP threads sleep instead of spinning, so tests sharing 2 cores do not starve each other.
  OMP_WAIT_POLICY=passive ctest --preset release -j"$(nproc)" --schedule-random --timeout 1200
done
