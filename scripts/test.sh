#!/usr/bin/env bash
# The whole test suite from a fresh clone: set up, build, run every test with CTest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --preset release -j"$(nproc)" --timeout 1200
