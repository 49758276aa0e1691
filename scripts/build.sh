#!/usr/bin/env bash
# Configures and builds the release preset (warnings are errors under CI=true).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extra=()
if [ "${CI:-}" = "true" ]; then extra+=(-DGEARBOX_WERROR=ON); fi
cmake --preset release "${extra[@]+"${extra[@]}"}" >&2
cmake --build --preset release -j"$(nproc)" >&2
