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
# The Python package (python/, gearbox_gnn): built into the PyG venv (torch and torch-geometric
# from PyPI, cached in ~/.cache/gearbox) against its torch (with the gnn CUDA kernels when
# nvcc and torch's CUDA are there; its GPU tests skip without a device), then its pytest suite. pytest's
# exit 5 (no test collected) counts as a failure, never as a silent pass.
py="$(bash scripts/python-env.sh pyg python/requirements-test.txt)"
"$py" -m pip install -q --no-build-isolation ./python >&2
rc=0
GEARBOX_BINARY="$PWD/build/release/apps/gearbox" OMP_WAIT_POLICY=passive \
  "$py" -m pytest -q -p no:cacheprovider python/tests || rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests in python/tests" >&2
  exit 1
fi
exit "$rc"
