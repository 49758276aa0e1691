#!/usr/bin/env bash
# python-env.sh NAME REQUIREMENTS_FILE: makes (once) a venv for baselines and plots in the
# cache, outside the repository, installs the requirements from PyPI, and prints its python.
# pip runs in the caller's environment (scripts/llamacpp-env.sh sets CMAKE_ARGS through it).
set -euo pipefail
name="$1"
req="$2"
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
venv="$cache/venv-$name"
stamp="$venv/.installed-$(sha256sum "$req" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "python-env: preparing $venv from $req" >&2
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >&2
  "$venv/bin/pip" install -q -r "$req" >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
