#!/usr/bin/env bash
# Makes the PyG baseline's venv (torch + torch-geometric from PyPI) through the project's
# scripts/python-env.sh and prints its python. Several minutes and ~3 GB the first time;
# `gearbox gnn bench` finds it afterwards in the cache (or through $GEARBOX_PYG_PYTHON).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../../scripts/python-env.sh" pyg "$here/requirements-pyg.txt"
