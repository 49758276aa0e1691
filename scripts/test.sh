#!/usr/bin/env bash
# The whole test suite from a fresh clone: set up, build, run every test with CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build.sh
# Idle OpenMP threads sleep instead of spinning, so tests sharing 2 cores do not starve each other.
OMP_WAIT_POLICY=passive ctest --preset release -j"$(nproc)" --timeout 1200
